"""
A person at the web page: Debian's headless Chromium driven by Selenium
through chromedriver, for the end-to-end run.

Selenium's calls block, and the reactor of the run also drives the other
users (netcat, IRC) of the same test: every call to the browser runs in the
reactor's thread pool (C{deferToThread}), so the reactor goes on meanwhile,
and every wait is bounded (Selenium's C{WebDriverWait}), failing with what
the page showed. Each browser has a profile of its own (its own
C{localStorage}: another person), in a temporary folder removed at the end.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from twisted.internet.threads import deferToThread

T = TypeVar("T")

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER_PATHS = ("/usr/bin/chromedriver",)
PHONE = {"width": 390, "height": 844}


def found(paths: tuple[str, ...], name: str) -> str | None:
    for path in paths:
        if Path(path).exists():
            return path
    return shutil.which(name)


def missing() -> str | None:
    """Why the browser tests cannot run here, or None if they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[test]')"
    if found(CHROMIUM_PATHS, "chromium") is None:
        return "Chromium not found (apt-get install chromium)"
    if found(CHROMEDRIVER_PATHS, "chromedriver") is None:
        return "chromedriver not found (apt-get install chromium-driver)"
    return None


class Browser:
    """One headless Chromium window (its own profile), driven from threads."""

    def __init__(self, driver: Any, profile: str) -> None:
        self.driver = driver
        self.profile = profile

    @classmethod
    async def start(
        cls,
        lang: str = "en-GB",
        size: tuple[int, int] = (1280, 800),
        phone: bool = False,
    ) -> Browser:
        """A new browser; with C{phone}, its page is 390×844 CSS pixels, touch."""
        return await deferToThread(cls._start, lang, size, phone)

    @classmethod
    def _start(cls, lang: str, size: tuple[int, int], phone: bool = False) -> Browser:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        profile = tempfile.mkdtemp(prefix="twistedchat-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = found(CHROMIUM_PATHS, "chromium") or "chromium"
        for argument in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            f"--lang={lang}",
            f"--window-size={size[0]},{size[1]}",
        ):
            options.add_argument(argument)
        options.add_experimental_option(
            "prefs", {"intl.accept_languages": f"{lang},{lang.split('-')[0]}"}
        )
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # An alert must stay open for the test to see it, not be dismissed.
        options.set_capability("unhandledPromptBehavior", "ignore")
        service = Service(
            executable_path=found(CHROMEDRIVER_PATHS, "chromedriver") or "chromedriver"
        )
        try:
            driver = webdriver.Chrome(options=options, service=service)
        except Exception:
            shutil.rmtree(profile, ignore_errors=True)
            raise
        driver.set_page_load_timeout(20)
        driver.set_script_timeout(20)
        # The page's own size, whatever the window's decorations take.
        metrics = PHONE if phone else {"width": size[0], "height": size[1]}
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"deviceScaleFactor": 1, "mobile": phone, **metrics},
        )
        return cls(driver, profile)

    def run(self, work: Callable[..., T], *arguments: Any) -> Any:
        """C{work(driver, *arguments)} in a thread: a Deferred of its result."""
        return deferToThread(work, self.driver, *arguments)

    async def quit(self) -> None:
        def stop(driver: Any) -> None:
            try:
                driver.quit()
            finally:
                shutil.rmtree(self.profile, ignore_errors=True)

        await self.run(stop)

    # What a person does

    async def open(self, url: str) -> None:
        await self.run(lambda driver: driver.get(url))

    async def reload(self) -> None:
        await self.run(lambda driver: driver.refresh())

    async def choose_nick(self, nick: str, room: str = "general") -> None:
        """Fills the welcome dialog (it opens for a browser without identity)."""

        def fill(driver: Any) -> None:
            from selenium.webdriver.common.by import By

            self._until(
                driver,
                lambda d: d.find_element(By.ID, "nick").is_displayed(),
                10,
                "the nick dialog",
            )
            field = driver.find_element(By.ID, "nick")
            field.clear()
            field.send_keys(nick)
            first_room = driver.find_element(By.ID, "first-room")
            first_room.clear()
            first_room.send_keys(room)
            first_room.submit()

        await self.run(fill)

    async def type(self, line: str) -> None:
        """Types C{line} in the message box and presses Enter."""

        def typing(driver: Any) -> None:
            from selenium.webdriver.common.by import By
            from selenium.webdriver.common.keys import Keys

            box = driver.find_element(By.ID, "message")
            box.send_keys(line + Keys.ENTER)

        await self.run(typing)

    async def click(self, selector: str) -> None:
        await self.run(
            lambda driver: driver.find_element("css selector", selector).click()
        )

    async def choose_picture(self, path: Path) -> None:
        def choose(driver: Any) -> None:
            from selenium.webdriver.common.by import By

            driver.find_element(By.ID, "picture").send_keys(str(path))

        await self.run(choose)

    # What a person sees

    @staticmethod
    def _until(
        driver: Any, check: Callable[[Any], Any], timeout: float, what: str
    ) -> Any:
        from selenium.common.exceptions import TimeoutException, WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        def safe(d: Any) -> Any:
            try:
                return check(d)
            except WebDriverException:
                return False

        try:
            return WebDriverWait(driver, timeout, poll_frequency=0.1).until(safe)
        except TimeoutException:
            try:
                shown = driver.find_element("tag name", "body").text
                state = driver.find_element("id", "state").text
            except WebDriverException as e:
                shown, state = f"(cannot read the page: {e})", "?"
            raise AssertionError(
                f"{what}: not within {timeout} s; state {state!r}; the page showed:\n"
                f"{shown[-3000:]}"
            ) from None

    async def wait_for(
        self, text: str, timeout: float = 10, selector: str = "#log"
    ) -> str:
        """The text of the first line (under C{selector}) containing C{text}."""

        def waiting(driver: Any) -> str:
            def line(d: Any) -> str | None:
                shown = d.execute_script(
                    "return Array.from(document.querySelectorAll(arguments[0]))"
                    ".map(e => e.innerText).join('\\n')",
                    selector,
                )
                return next((row for row in shown.split("\n") if text in row), None)

            found_line: str = self._until(
                driver, line, timeout, f"a line with {text!r}"
            )
            return found_line

        return await self.run(waiting)  # type: ignore[no-any-return]

    async def wait_for_state(self, state: str, timeout: float = 10) -> str:
        """The connection state shown (connecting, connected, reconnecting...)."""

        def waiting(driver: Any) -> str:
            def shown(d: Any) -> str | None:
                element = d.find_element("id", "state")
                if element.get_attribute("data-state") == state:
                    return str(element.text)
                return None

            text: str = self._until(driver, shown, timeout, f"the state {state!r}")
            return text

        return await self.run(waiting)  # type: ignore[no-any-return]

    async def script(self, source: str, *arguments: Any) -> Any:
        return await self.run(lambda driver: driver.execute_script(source, *arguments))

    async def alert_text(self) -> str | None:
        """The text of an open alert, or None."""

        def alert(driver: Any) -> str | None:
            from selenium.common.exceptions import NoAlertPresentException

            try:
                return str(driver.switch_to.alert.text)
            except NoAlertPresentException:
                return None

        return await self.run(alert)  # type: ignore[no-any-return]

    async def console(self) -> list[dict[str, Any]]:
        """What the page logged to its console since the last call."""
        return await self.run(lambda driver: driver.get_log("browser"))  # type: ignore[no-any-return]

    async def screenshot(self, path: Path) -> None:
        """A PNG of the page, at the size it is shown."""

        def shoot(driver: Any) -> None:
            shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(shot["data"]))

        await self.run(shoot)

    async def press(self, *keys: str) -> None:
        """Keys pressed one after the other, wherever the focus is."""

        def pressing(driver: Any) -> None:
            from selenium.webdriver.common.action_chains import ActionChains

            actions = ActionChains(driver)
            for key in keys:
                actions.send_keys(key)
            actions.perform()

        await self.run(pressing)

    async def contrast_failures(self) -> list[str]:
        """
        The texts shown with less than WCAG AA contrast against what is
        behind them (4.5:1; 3:1 for large text), as "text: ratio".
        """
        return await self.script(CONTRAST)  # type: ignore[no-any-return]


# Each element with text of its own, shown: its colour against the first
# opaque background of it or its ancestors (the page's is white).
CONTRAST = """
const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
const lum = ([r, g, b]) => [r, g, b].map((v) => {
  v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}).reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
const failures = [];
for (const e of document.querySelectorAll("body *")) {
  const own = Array.from(e.childNodes).filter(
    (n) => n.nodeType === 3 && n.textContent.trim()).map((n) => n.textContent).join("");
  if (!own || !e.getClientRects().length) continue;
  const style = getComputedStyle(e);
  if (style.visibility === "hidden" || style.opacity === "0") continue;
  if (e.closest("dialog:not([open])")) continue;
  let back = null;
  for (let a = e; a && !back; a = a.parentElement) {
    const c = getComputedStyle(a).backgroundColor;
    if (rgb(c).length === 3 || rgb(c)[3] === 1) back = c;
  }
  const [l1, l2] = [lum(rgb(style.color)), lum(rgb(back || "rgb(255,255,255)"))];
  const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5)) failures.push(own.trim() + ": " + ratio.toFixed(2));
}
return failures;
"""
