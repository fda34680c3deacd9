"""
The web page in a real browser (headless Chromium, through Selenium) against
the real C{twistd -n twistedchat}: people in browsers chat with a netcat user
and an IRC user in one room, a reload keeps the identity and shows what was
missed, hostile text stays text, a picture sent from the page reaches netcat
as ASCII art, the page speaks French to a French browser, works at phone size
with the keyboard alone, and reconnects by itself when the server restarts.

With C{TWISTEDCHAT_SCREENSHOTS} set to a folder, the tests leave the
screenshots of docs/ there (light desktop, phone size, French).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_twisted

from e2e.browser import Browser, missing
from e2e.programs import ChatServer, NetcatUser

SKIP = missing()
pytestmark = pytest.mark.skipif(SKIP is not None, reason=f"no browser: {SKIP}")

StartBrowser = Callable[..., Awaitable[Browser]]


@pytest_twisted.async_yield_fixture
async def browsers() -> AsyncIterator[StartBrowser]:
    """Starts browsers for a test (each its own person); all quit at its end."""
    started: list[Browser] = []

    async def start(
        lang: str = "en-GB", size: tuple[int, int] = (1280, 800), phone: bool = False
    ) -> Browser:
        browser = await Browser.start(lang, size, phone)
        started.append(browser)
        return browser

    try:
        yield start
    finally:
        for browser in started:
            await browser.quit()


async def page_url(server: ChatServer) -> str:
    await server.waits.until(lambda: "web" in server.ports, 10, "the web front")
    return f"http://127.0.0.1:{server.ports['web']}/"


async def irc_user(server: ChatServer, nick: str, room: str = "general") -> NetcatUser:
    """A person with an IRC client, registered and in C{room}."""
    user = await NetcatUser.connect(server.ports["irc"])
    user.send(f"NICK {nick}")
    user.send(f"USER {nick} 0 * :{nick}")
    await user.wait_for(f" 001 {nick} ")
    user.send(f"JOIN #{room}")
    await user.wait_for(f" 366 {nick} #{room} ")
    return user


async def no_trouble_in(browser: Browser, expected: str | None = None) -> None:
    """
    No console error (a CSP violation, a failed script) and no alert; but
    those that say C{expected}.
    """
    assert await browser.alert_text() is None
    logged = await browser.console()
    troubles = [
        entry["message"]
        for entry in logged
        if (entry["level"] == "SEVERE" or "Content Security Policy" in entry["message"])
        and (expected is None or expected not in entry["message"])
    ]
    assert troubles == []


def screenshot_path(name: str) -> Path | None:
    folder = os.environ.get("TWISTEDCHAT_SCREENSHOTS")
    return Path(folder) / name if folder else None


@pytest_twisted.ensureDeferred
async def test_browsers_netcat_and_irc_chat_in_one_room(
    chat_server: ChatServer, browsers: StartBrowser
) -> None:
    url = await page_url(chat_server)
    alice, bob = await browsers(), await browsers()
    for browser, nick in ((alice, "alice"), (bob, "bob")):
        await browser.open(url)
        await browser.wait_for_state("connected")
        await browser.choose_nick(nick)
        await browser.wait_for("You are in #general")
    toto = await NetcatUser.connect(chat_server.ports["line"], "toto")
    ircy = await irc_user(chat_server, "ircy")
    try:
        await alice.wait_for("is now known as toto")
        await alice.wait_for("ircy joined #general")

        await alice.type("hello from the browser")
        await alice.wait_for("You said: hello from the browser")
        await bob.wait_for("alice said: hello from the browser")
        assert "hello from the browser" in await toto.wait_for("[alice]")
        await ircy.wait_for(":alice!")

        toto.send("MSG hello from netcat")
        ircy.send("PRIVMSG #general :hello from IRC, bob")
        for browser in (alice, bob):
            await browser.wait_for("toto said: hello from netcat")
            await browser.wait_for("ircy said: hello from IRC, bob")
        await alice.type("/topic all fronts welcome")
        await bob.wait_for("alice set the topic of #general: all fronts welcome")
        assert await bob.script("return topic.textContent") == "all fronts welcome"
        await toto.wait_for("set the topic of #general: all fronts welcome")
        await bob.type("/me waves")
        await alice.wait_for("* bob waves")
        await toto.wait_for("bob waves")

        # Mentions of one's nick stand out; the member list has everyone.
        mentions = await bob.script(
            "return Array.from(document.querySelectorAll('#log .mention'))"
            ".map(e => e.innerText)"
        )
        assert [line for line in mentions if "hello from IRC, bob" in line]
        members = await alice.script(
            "return Array.from(document.querySelectorAll('#members .nick'))"
            ".map(e => e.textContent)"
        )
        assert sorted(members) == ["alice", "bob", "ircy", "toto"]
        # Each nick on its identity's colour: the same in both pages.
        colour = (
            "return Array.from(document.querySelectorAll('#members .nick'))"
            ".map(e => [e.textContent, getComputedStyle(e).backgroundColor])"
        )
        assert await alice.script(colour) == await bob.script(colour)

        # A private conversation of its own.
        await alice.type("/msg bob a word in private")
        await alice.wait_for("You said to bob (private): a word in private")
        await bob.wait_for("alice", selector="#privates")
        unread = await bob.script(
            "return document.querySelector('#privates .unread').textContent"
        )
        assert unread == "1"
        await bob.click("#privates button")
        await bob.wait_for("alice said to you (private): a word in private")
        await bob.type("an answer")
        await alice.wait_for("bob said to you (private): an answer")
        await alice.click("#rooms button")
        # A private conversation follows its person to a new nick.
        await bob.type("/nick bobby")
        await alice.wait_for("bob is now known as bobby")
        privates = await alice.script("return privates.textContent")
        assert privates == "bobby"

        assert await alice.contrast_failures() == []
        path = screenshot_path("web-page.png")
        if path is not None:
            await alice.screenshot(path)
        await no_trouble_in(alice)
        await no_trouble_in(bob)
    finally:
        toto.close()
        ircy.close()


@pytest_twisted.ensureDeferred
async def test_reload_keeps_identity_and_shows_what_was_missed(
    chat_server: ChatServer, browsers: StartBrowser
) -> None:
    url = await page_url(chat_server)
    alice = await browsers()
    await alice.open(url)
    await alice.choose_nick("alice")
    await alice.wait_for("Welcome alice!")
    await alice.wait_for("You are in #general")
    me = await alice.script("return localStorage.length")
    assert me == 1

    await alice.reload()
    await alice.wait_for("Welcome back alice!")  # no nick asked: the token
    await alice.wait_for("You are in #general")

    # A second tab of the same browser is the same user.
    await alice.run(lambda driver: driver.switch_to.new_window("tab"))
    await alice.open(url)
    await alice.wait_for("Welcome back alice!")
    await alice.run(lambda driver: driver.close())
    await alice.run(lambda driver: driver.switch_to.window(driver.window_handles[0]))

    # Away from the page while others talk: back, what was missed is marked.
    toto = await NetcatUser.connect(chat_server.ports["line"], "toto")
    try:
        await alice.open("about:blank")
        await toto.wait_for('client disconnected "alice"')
        toto.send("MSG first while you were away")
        toto.send("MSG second while you were away")
        seen = len(toto.lines)
        toto.send("NAMES")  # answered once both messages are in the room
        await toto.wait_for("[server] toto", after=seen)
        await alice.open(url)
        await alice.wait_for("Welcome back alice!")
        await alice.wait_for("— 2 messages since you left —")
        missed = await alice.script(
            "return Array.from(document.querySelectorAll('#log .missed'))"
            ".map(e => e.innerText)"
        )
        assert len(missed) == 2
        assert "first while you were away" in missed[0]
        assert "second while you were away" in missed[1]
        # toto's nick on the same colour in what was missed (a colour the
        # page works out from the entry's user id) as in what is live.
        toto.send("MSG and now live")
        await alice.wait_for("toto said: and now live")
        colours = await alice.script(
            "return Array.from(document.querySelectorAll('#log .missed .nick,"
            " #log .message .nick')).map(e => getComputedStyle(e).backgroundColor)"
        )
        assert len(colours) == 3 and len(set(colours)) == 1
        assert colours[0] != "rgba(0, 0, 0, 0)"
        await toto.wait_for('"alice" is back in #general')
        await no_trouble_in(alice)
    finally:
        toto.close()


@pytest_twisted.ensureDeferred
async def test_hostile_text_is_shown_as_text(
    chat_server: ChatServer, browsers: StartBrowser
) -> None:
    url = await page_url(chat_server)
    alice = await browsers()
    await alice.open(url)
    await alice.choose_nick("alice")
    await alice.wait_for("You are in #general")
    toto = await NetcatUser.connect(chat_server.ports["line"], "toto")
    try:
        toto.send("MSG <img src=x onerror=alert(1)>")
        toto.send("MSG javascript:alert(1)")
        toto.send('MSG <a href="javascript:alert(2)">click</a>')
        toto.send("MSG see https://example.org/page?a=1&b=<2>")
        await alice.wait_for("toto said: <img src=x onerror=alert(1)>")
        await alice.wait_for("toto said: javascript:alert(1)")
        await alice.wait_for('toto said: <a href="javascript:alert(2)">click</a>')
        await alice.wait_for("toto said: see https://example.org/page")

        created = await alice.script(
            "return [document.querySelectorAll('#log img').length,"
            " document.querySelectorAll('#log a[href^=\"javascript\"]').length,"
            " Array.from(document.querySelectorAll('#log a'))"
            "   .map(a => [a.href, a.rel, a.textContent])]"
        )
        images, script_links, links = created
        assert images == 0
        assert script_links == 0
        assert links == [
            [
                "https://example.org/page?a=1&b=",
                "noopener noreferrer",
                "https://example.org/page?a=1&b=",
            ]
        ]
        await no_trouble_in(alice)
    finally:
        toto.close()


@pytest_twisted.ensureDeferred
async def test_french_page(chat_server: ChatServer, browsers: StartBrowser) -> None:
    url = await page_url(chat_server)
    marie = await browsers(lang="fr-FR")
    await marie.open(url)
    await marie.wait_for_state("connected")
    assert await marie.script("return document.documentElement.lang") == "fr"
    labels = await marie.script(
        "return [document.querySelector('#composer button').textContent,"
        " document.querySelector('#message').placeholder]"
    )
    assert labels == ["Envoyer", "Tapez un message ou /help"]
    await marie.choose_nick("marie")
    await marie.wait_for("Bienvenue marie !")
    await marie.wait_for("Vous êtes dans #general")
    toto = await NetcatUser.connect(chat_server.ports["line"], "toto")
    try:
        await marie.wait_for("s’appelle désormais toto")
        await marie.type("bonjour toto")
        await marie.wait_for("Vous avez dit : bonjour toto")
        toto.send("MSG salut marie")
        await marie.wait_for("toto a dit : salut marie")
        await marie.type("/nosuch")
        await marie.wait_for("Commande inconnue /nosuch ; tapez /help")
        await marie.type("/part nowhere")  # the server's error, in French
        await marie.wait_for("Erreur : vous n’êtes pas dans #nowhere")
        path = screenshot_path("web-page-fr.png")
        if path is not None:
            await marie.screenshot(path)
        await no_trouble_in(marie)
    finally:
        toto.close()


@pytest_twisted.ensureDeferred
async def test_page_reconnects_after_a_server_restart(
    tmp_path: Path, browsers: StartBrowser
) -> None:
    folder = tmp_path / "server"
    server = await ChatServer.start(folder)
    servers = [server]
    try:
        url = await page_url(server)
        alice = await browsers()
        await alice.open(url)
        await alice.choose_nick("alice")
        await alice.wait_for("You are in #general")
        ports = dict(server.ports)

        await server.stop()
        shown = await alice.wait_for_state("reconnecting")
        assert "reconnecting in" in shown

        # The same server again: same folder (its secret: tokens stay
        # valid), same ports.
        server = await ChatServer.start(
            folder,
            *("--port", str(ports["line"]), "--framed-port", str(ports["framed"])),
            *("--irc-port", str(ports["irc"]), "--web-port", str(ports["web"])),
        )
        servers.append(server)
        await alice.wait_for_state("connected", timeout=30)
        await alice.wait_for("Welcome back alice!")
        toto = await NetcatUser.connect(server.ports["line"], "toto")
        try:
            await alice.type("still here")  # back in the room, without a click
            assert "still here" in await toto.wait_for("[alice]")
        finally:
            toto.close()
        # While the server was away, the browser said so of each attempt.
        await no_trouble_in(alice, expected="net::ERR_CONNECTION_REFUSED")
    finally:
        for running in servers:
            await running.stop()


@pytest_twisted.ensureDeferred
async def test_pictures_from_the_browser(
    chat_server: ChatServer, browsers: StartBrowser, tmp_path: Path
) -> None:
    from PIL import Image, ImageDraw

    url = await page_url(chat_server)
    alice = await browsers()
    await alice.open(url)
    await alice.choose_nick("alice")
    await alice.wait_for("You are in #general")
    toto = await NetcatUser.connect(chat_server.ports["line"], "toto")
    try:
        await alice.wait_for("is now known as toto")
        drawing = Image.new("RGB", (120, 80), "white")
        ImageDraw.Draw(drawing).ellipse((20, 10, 100, 70), fill="navy")
        drawing.save(tmp_path / "circle.png")
        await alice.choose_picture(tmp_path / "circle.png")

        # netcat gets it as ASCII art: rows of characters, darker in the middle.
        heading = await toto.wait_for("[alice] shows a picture:")
        start = toto.lines.index(heading) + 1
        await toto.waits.until(lambda: len(toto.lines) > start + 10, 10, "the art")
        rows = [row for row in toto.lines[start:] if row.startswith("  ")]
        assert len(rows) > 10
        assert len({char for row in rows for char in row.strip()}) > 1

        # The browser shows the picture itself, as the server re-encoded it.
        await alice.wait_for("You showed a picture:")
        shown = await alice.run(
            lambda driver: Browser._until(
                driver,
                lambda d: d.execute_script(
                    "const i = document.querySelector('#log img.picture');"
                    "return i && i.complete && i.naturalWidth"
                    " ? [i.getAttribute('src'), i.naturalWidth, i.alt] : null"
                ),
                10,
                "the picture loaded",
            )
        )
        source, width, description = shown
        assert source.startswith("/media/")
        assert width == 120
        assert description == "alice showed a picture:"

        # A file that is no picture: said, and nothing sent to the room.
        (tmp_path / "notes.png").write_text("not a picture at all")
        seen = len(toto.lines)
        await alice.choose_picture(tmp_path / "notes.png")
        await alice.wait_for(
            "Cannot show that picture: not a picture (or in a format we cannot read)"
        )
        toto.send("NAMES")
        await toto.wait_for("[server] ", after=seen)
        assert not [line for line in toto.lines[seen:] if "shows a picture" in line]
        await no_trouble_in(alice)
    finally:
        toto.close()


@pytest_twisted.ensureDeferred
async def test_phone_size_and_keyboard_only(
    chat_server: ChatServer, browsers: StartBrowser
) -> None:
    from selenium.webdriver.common.keys import Keys

    url = await page_url(chat_server)
    phone = await browsers(phone=True)
    await phone.open(url)
    await phone.wait_for_state("connected")
    # The nick dialog has the focus: a nick, Enter (the room is general).
    await phone.press("pat", Keys.ENTER)
    await phone.wait_for("You are in #general")
    sizes = await phone.script(
        "return [window.innerWidth, getComputedStyle(sidebar).display,"
        " getComputedStyle(menu).display, document.activeElement.id]"
    )
    assert sizes == [390, "none", "flex", "message"]  # the room list folded

    # From the top of the page: the skip link, then the Rooms button.
    await phone.script("document.querySelector('.skip').focus()")
    await phone.press(Keys.TAB)
    focused = await phone.script(
        "const e = document.activeElement;"
        "return [e.id, getComputedStyle(e).outlineStyle, e.getAttribute('aria-expanded')]"
    )
    assert focused == ["menu", "solid", "false"]  # and its focus is visible
    await phone.press(Keys.ENTER)
    opened = await phone.script(
        "return [getComputedStyle(sidebar).display, menu.getAttribute('aria-expanded'),"
        " document.activeElement.textContent]"
    )
    assert opened == ["block", "true", "#general1"]
    # Through the room list to "Enter a room": a new room, by its name.
    await phone.press(Keys.TAB, "lobby", Keys.ENTER)
    await phone.wait_for("You are in #lobby")
    state = await phone.script(
        "return [getComputedStyle(sidebar).display, title.textContent,"
        " document.activeElement.id]"
    )
    assert state == ["none", "#lobby", "message"]
    await phone.press("hello from a phone", Keys.ENTER)
    await phone.wait_for("You said: hello from a phone")
    assert await phone.contrast_failures() == []
    # Back in #general with a netcat user; the unread count shows from afar.
    toto = await NetcatUser.connect(chat_server.ports["line"], "toto")
    try:
        toto.send("MSG hi pat, how is the phone?")
        await phone.run(
            lambda driver: Browser._until(
                driver,
                lambda d: d.title == "(1) twistedchat",
                10,
                "the unread count in the tab's title",
            )
        )
        await phone.script("document.querySelector('#menu').focus()")
        await phone.press(Keys.ENTER, Keys.ENTER)  # Rooms, then #general
        await phone.wait_for("toto said: hi pat, how is the phone?")
        await phone.type("fine, thanks toto")
        assert "fine, thanks toto" in await toto.wait_for("[pat]")
        path = screenshot_path("web-page-phone.png")
        if path is not None:
            await phone.screenshot(path)
    finally:
        toto.close()
    await no_trouble_in(phone)
