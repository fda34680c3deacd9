"""
Several nodes, one chat, with real processes: a real C{redis-server} and
real C{twistd -n twistedchat --cluster redis://...} nodes on loopback, netcat,
IRC, terminal client and browser users spread over them (see L{e2e.cluster}).

What a person would notice: the people on the other node are in the room,
hear them and are heard, in the same order everywhere; a nick is one
person's cluster-wide, even claimed on two nodes at once; when a node dies
its people leave the room within 10 s and the others lose nothing, in the
history files neither; Redis restarting or stalling, or a node stalling,
costs a delay and nothing else (past what a node may queue while Redis is
away, it says so and keeps nothing it would drop); a node started later
knows the rooms, their members and their topics before its first user
arrives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred

from e2e.browser import Browser, missing
from e2e.cluster import (
    GONE_WITHIN,
    Cluster,
    IRCUser,
    eventually,
    in_order,
    log_errors,
    netcat_answer,
    netcat_names,
    pause,
    said,
    said_to_netcat,
    wait_said,
)
from e2e.programs import NetcatUser, reactor
from twistedchat.cluster.redis import REPLY_TIMEOUT
from twistedchat.core.errors import LogUnavailable, NickInUse

# How long a node stays stopped (SIGSTOP): a few seconds, less than its
# presence lasts without a heartbeat (6 s).
STOPPED = 3.0
# What a node answers a command it cannot keep while Redis is away.
REFUSED = f"[server] error: {LogUnavailable()}"
# A reply to NICK on the line front: taken, or refused.
NICK_ANSWER = r'^\[server\] (you are now known as "|error: )'


def assert_no_errors(cluster: Cluster) -> None:
    """No node logged an error it did not expect (a traceback)."""
    for node in cluster.nodes:
        assert log_errors(node) == [], node.name


def without(sequence: Sequence[tuple[str, str]], nick: str) -> list[tuple[str, str]]:
    return [(who, text) for who, text in sequence if who != nick]


def assert_one_order(
    everyone: dict[str, NetcatUser | IRCUser], expected: dict[str, list[str]]
) -> None:
    """
    Every member read every message of the others exactly once, and all of
    them in the same order: the one order of the log. C{expected}: each
    sender's texts, in the order it said them.
    """
    total = sum(len(texts) for texts in expected.values())
    listeners = [nick for nick in everyone if nick not in expected]
    assert listeners, "the order is shown by someone who only listens"
    order = said(everyone[listeners[0]])
    assert len(order) == total, order
    for sender, texts in expected.items():
        assert in_order(order, sender) == texts, sender  # once each, in order
    for nick, user in everyone.items():
        assert said(user) == without(order, nick), nick


@pytest_twisted.ensureDeferred
async def test_two_nodes_one_chat(cluster: Cluster) -> None:
    a, b = await cluster.start_nodes("a", "b")
    anna = await cluster.netcat(a, "anna")
    bruno = await cluster.irc(b, "bruno")
    await bruno.join("general")

    # Each sees the other arrive, and in NAMES, and in WHO.
    await anna.wait_for('[server] "bruno" joined #general')
    assert await bruno.names("general") == {"anna", "bruno"}
    assert await netcat_names(anna) == {"anna", "bruno"}
    seen = len(bruno.messages)
    bruno.send("WHO #general")
    end = await bruno.wait_for("315", after=seen)
    who = bruno.messages[seen : bruno.messages.index(end, seen)]
    assert {reply.params[5] for reply in who if reply.command == "352"} == {
        "anna",
        "bruno",
    }

    # Messages both ways.
    anna.send("MSG hello from node a")
    message = await bruno.wait_for("PRIVMSG")
    assert (message.nick, message.params) == ("anna", ("#general", "hello from node a"))
    bruno.send("PRIVMSG #general :hello from node b")
    await anna.wait_for("[bruno] hello from node b")

    # A new nick, a topic, a private message.
    anna.send("NICK anne")
    nick = await bruno.wait_for("NICK")
    assert (nick.nick, nick.params) == ("anna", ("anne",))
    anna.send("TOPIC one chat, two nodes")  # the room's operator: its first
    topic = await bruno.wait_for("TOPIC")
    assert (topic.nick, topic.params) == ("anne", ("#general", "one chat, two nodes"))
    bruno.send("PRIVMSG anne :psst, only you")
    await anna.wait_for("[bruno] (private) psst, only you")

    # The twistedchat client, on node b's framed front, in the same room.
    tutu = cluster.terminal_client(b, "tutu")
    await anna.wait_for('[server] "tutu" joined #general')
    anna.send("MSG and you, tutu?")
    await tutu.wait_for_output("anne said: and you, tutu?")
    tutu.line("fine, from node b's framed front")
    await anna.wait_for("[tutu] fine, from node b's framed front")
    message = await bruno.wait_for("PRIVMSG", lambda m: m.nick == "tutu")
    assert message.params == ("#general", "fine, from node b's framed front")

    # IRC to IRC across nodes: a private message, then a KICK, which the
    # netcat user in the room sees too.
    carla = await cluster.irc(a, "carla")
    carla.send("PRIVMSG bruno :hi bruno, from a")
    whisper = await bruno.wait_for("PRIVMSG", lambda m: m.params[0] == "bruno")
    assert (whisper.nick, whisper.params[1]) == ("carla", "hi bruno, from a")
    await bruno.join("ops")  # the first in the room: its operator
    await carla.join("ops")
    seen = len(anna.lines)
    anna.send("JOIN ops")
    await anna.wait_for("[server] you are in #ops (3 members)", after=seen)
    await bruno.wait_for("JOIN", lambda m: m.nick == "anne" and m.params[0] == "#ops")
    bruno.send("KICK #ops carla :node b says so")
    kick = await carla.wait_for("KICK")
    assert (kick.nick, kick.params) == ("bruno", ("#ops", "carla", "node b says so"))
    await anna.wait_for(
        '[server] "carla" was kicked from #ops by "bruno": node b says so'
    )
    bruno.send("KICK #ops anne")
    await anna.wait_for('[server] "anne" was kicked from #ops by "bruno"')
    await bruno.wait_for("KICK", lambda m: m.params[:2] == ("#ops", "anne"))
    assert await bruno.names("ops") == {"bruno"}
    assert await carla.names("ops") == {"bruno"}  # seen from node a too
    assert_no_errors(cluster)


@pytest_twisted.ensureDeferred
async def test_nick_claimed_on_two_nodes_at_once(cluster: Cluster) -> None:
    a, b = await cluster.start_nodes("a", "b")
    one = await cluster.netcat(a, "one")
    two = await cluster.netcat(b, "two")
    watcher = await cluster.irc(b, "watcher")
    await watcher.join("general")
    nicks = {one: "one", two: "two"}
    for turn in range(6):
        wanted = f"wanted{turn}"
        seen = {user: len(user.lines) for user in nicks}
        for user in nicks:  # the same reactor turn: both nodes append at once
            user.send(f"NICK {wanted}")
        answers = {
            user: await netcat_answer(user, NICK_ANSWER, seen[user]) for user in nicks
        }
        winners = [user for user, line in answers.items() if "known as" in line]
        assert len(winners) == 1, answers
        (loser,) = set(nicks) - set(winners)
        assert answers[loser] == f"[server] error: {NickInUse(wanted)}"
        nicks[winners[0]] = wanted
        # Everyone, on both nodes, agrees on who is who.
        expected = {*nicks.values(), "watcher"}
        assert await netcat_names(one) == expected
        assert await netcat_names(two) == expected
        assert await watcher.names("general") == expected
    assert_no_errors(cluster)


@pytest_twisted.ensureDeferred
async def test_one_order_on_every_node(cluster: Cluster) -> None:
    a, b = await cluster.start_nodes("a", "b")
    everyone: dict[str, NetcatUser | IRCUser] = {
        "sa1": await cluster.netcat(a, "sa1"),
        "sa2": await cluster.netcat(a, "sa2"),
        "sb1": await cluster.netcat(b, "sb1"),
        "sb2": await cluster.irc(b, "sb2"),
        "la1": await cluster.netcat(a, "la1"),
        "la2": await cluster.irc(a, "la2"),
        "lb1": await cluster.netcat(b, "lb1"),
        "lb2": await cluster.irc(b, "lb2"),
    }
    for user in everyone.values():
        if isinstance(user, IRCUser):
            await user.join("general")
    for user in everyone.values():
        if isinstance(user, IRCUser):
            assert await user.names("general") == set(everyone)
        else:
            assert await netcat_names(user) == set(everyone)

    senders = ["sa1", "sa2", "sb1", "sb2"]
    expected: dict[str, list[str]] = {nick: [] for nick in senders}
    for i in range(40):
        for nick in senders:  # in one reactor turn: at once on both nodes
            text = f"{nick} says {i}"
            user = everyone[nick]
            if isinstance(user, IRCUser):
                user.send(f"PRIVMSG #general :{text}")
            else:
                user.send(f"MSG {text}")
            expected[nick].append(text)
        if i % 10 == 9:
            await pause(0.05)  # bursts, as people type
    await wait_said(
        [user for nick, user in everyone.items() if nick not in senders], 160
    )
    await wait_said([everyone[nick] for nick in senders], 120)
    assert_one_order(everyone, expected)
    assert_no_errors(cluster)


@pytest_twisted.ensureDeferred
async def test_killed_node(cluster: Cluster) -> None:
    await cluster.start_nodes("a", "b")
    # The node killed is the one writing the history: its lease must pass.
    victim = await cluster.wait_holder()
    (survivor,) = [node for node in cluster.nodes if node is not victim]
    anna = await cluster.netcat(victim, "anna")
    dora = await cluster.irc(victim, "dora")
    await dora.join("general")
    bruno = await cluster.netcat(survivor, "bruno")
    carla = await cluster.irc(survivor, "carla")
    await carla.join("general")
    await bruno.wait_for('[server] "carla" joined #general')
    anna.send("MSG before the crash")
    await bruno.wait_for("[anna] before the crash")
    await carla.wait_for("PRIVMSG", lambda m: m.params[1] == "before the crash")

    killed = reactor.seconds()
    await cluster.kill(victim)
    # The survivors go on talking while the dead node's presence runs out.
    for i in range(10):
        bruno.send(f"MSG bruno after the crash {i}")
        carla.send(f"PRIVMSG #general :carla after the crash {i}")
        await pause(0.2)

    await bruno.wait_for('[server] client disconnected "anna"', timeout=GONE_WITHIN)
    await bruno.wait_for('[server] client disconnected "dora"', timeout=GONE_WITHIN)
    await carla.wait_for("QUIT", lambda m: m.nick == "anna", timeout=GONE_WITHIN)
    await carla.wait_for("QUIT", lambda m: m.nick == "dora", timeout=GONE_WITHIN)
    assert reactor.seconds() - killed < GONE_WITHIN
    assert await carla.names("general") == {"bruno", "carla"}
    assert await netcat_names(bruno) == {"bruno", "carla"}

    # Nothing the survivors accepted is lost, nor doubled, nor reordered.
    bruno_said = [f"bruno after the crash {i}" for i in range(10)]
    carla_said = [f"carla after the crash {i}" for i in range(10)]
    await wait_said([bruno, carla], 11)
    assert in_order(said(carla), "bruno") == bruno_said
    assert in_order(said(bruno), "carla") == carla_said
    assert not bruno.closed and not carla.closed

    # The history's lease passed to the survivor, which wrote everything:
    # each message once, in order, the dead node's last one included.
    assert await cluster.wait_holder(timeout=15) is survivor
    accepted = ["before the crash", *bruno_said, *carla_said]
    await eventually(
        lambda: set(cluster.history_texts("general")) >= set(accepted),
        "every message accepted in the history files",
        timeout=15,
    )
    texts = cluster.history_texts("general")
    assert texts.count("before the crash") == 1
    assert [text for text in texts if text.startswith("bruno after")] == bruno_said
    assert [text for text in texts if text.startswith("carla after")] == carla_said
    assert log_errors(survivor) == []


async def _talk_through(
    cluster: Cluster, fault: Callable[[], Awaitable[object]]
) -> None:
    """
    Two nodes, a netcat sender and an IRC listener on each, who keep
    talking while C{fault} happens to Redis: every message is delivered,
    once, in one order, to every member; nobody is disconnected or refused;
    the history holds each once, in order.
    """
    a, b = await cluster.start_nodes("a", "b")
    anna = await cluster.netcat(a, "anna")
    bruno = await cluster.netcat(b, "bruno")
    carla = await cluster.irc(a, "carla")
    dora = await cluster.irc(b, "dora")
    await carla.join("general")
    await dora.join("general")
    await anna.wait_for('[server] "dora" joined #general')
    await bruno.wait_for('[server] "dora" joined #general')
    everyone: dict[str, NetcatUser | IRCUser] = {
        "anna": anna,
        "bruno": bruno,
        "carla": carla,
        "dora": dora,
    }
    senders = {"anna": anna, "bruno": bruno}
    expected: dict[str, list[str]] = {nick: [] for nick in senders}
    seen = {nick: len(user.lines) for nick, user in senders.items()}

    async def talk() -> None:
        for i in range(40):  # 4 s: a message each 0.1 s from each sender
            for nick, user in senders.items():
                text = f"{nick} says {i}"
                user.send(f"MSG {text}")
                expected[nick].append(text)
            await pause(0.1)

    talking = Deferred.fromCoroutine(talk())
    await pause(0.8)
    await fault()
    await talking
    await wait_said([carla, dora], 80, timeout=20)
    await wait_said([anna, bruno], 40, timeout=5)
    for nick, user in senders.items():  # queued while Redis was away
        assert [line for line in user.lines[seen[nick] :] if "error" in line] == []
    assert not any(user.closed for user in everyone.values())
    assert_one_order(everyone, expected)

    accepted = {text for texts in expected.values() for text in texts}
    await eventually(
        lambda: set(cluster.history_texts("general")) >= accepted,
        "every message in the history files",
        timeout=15,
    )
    texts = cluster.history_texts("general")
    for nick, said_texts in expected.items():
        assert [text for text in texts if text.startswith(f"{nick} says")] == said_texts


@pytest_twisted.ensureDeferred
async def test_redis_restarted(persistent_cluster: Cluster) -> None:
    async def restart() -> None:  # down 2 s, then back with all it had
        await persistent_cluster.redis.restart(reactor, down=2.0)

    await _talk_through(persistent_cluster, restart)


# Redis busy for 3 s: the nodes' commands wait for their replies. For 6.5 s:
# longer than a node waits for a reply (REPLY_TIMEOUT, 5 s), so it reconnects
# and sends again what Redis had received but not answered: the log holds
# copies, which applying skips.
@pytest.mark.parametrize("seconds", [3.0, 6.5])
@pytest_twisted.ensureDeferred
async def test_redis_asleep(cluster: Cluster, seconds: float) -> None:
    async def sleep() -> None:
        cluster.redis.debug_sleep(seconds)  # returns at once; Redis sleeps

    await _talk_through(cluster, sleep)
    if seconds > REPLY_TIMEOUT:  # so the copies were there, and were skipped
        assert cluster.log_copies() > 0


@pytest_twisted.ensureDeferred
async def test_full_queue_refuses(persistent_cluster: Cluster) -> None:
    """
    While Redis is down a node keeps what its users say, up to LOG_QUEUE
    commands, and sends it once Redis is back; past that it refuses, with a
    clear error, and never drops what it accepted.
    """
    cluster = persistent_cluster
    a = await cluster.start_node("a", "--log-queue", "5")
    b = await cluster.start_node("b")
    anna = await cluster.netcat(a, "anna")
    bruno = await cluster.netcat(b, "bruno")
    await anna.wait_for('=> "bruno"')

    await cluster.redis.stop(reactor)
    await pause(0.5)  # both nodes see their connections to Redis close
    seen = len(anna.lines)
    for i in range(20):
        anna.send(f"MSG queued {i}")
    await anna.wait_for(REFUSED, after=seen)
    await pause(0.5)  # every line read and answered
    refused = [line for line in anna.lines[seen:] if "error" in line]
    assert set(refused) == {REFUSED}, refused
    accepted = 20 - len(refused)
    assert 1 <= accepted <= 5, refused  # what the queue holds, no more

    await cluster.redis.start(reactor)
    await wait_said([bruno], accepted, timeout=15)  # node a sent its queue
    anna.send("MSG after Redis came back")
    await bruno.wait_for("[anna] after Redis came back", timeout=15)
    # What was accepted arrives, once, in order; what was refused never.
    assert said_to_netcat(bruno) == [
        *[("anna", f"queued {i}") for i in range(accepted)],
        ("anna", "after Redis came back"),
    ]
    assert not anna.closed and not bruno.closed


@pytest_twisted.ensureDeferred
async def test_stopped_node_catches_up(cluster: Cluster) -> None:
    a, b = await cluster.start_nodes("a", "b")
    anna = await cluster.netcat(a, "anna")
    bruno = await cluster.netcat(b, "bruno")
    lena = await cluster.netcat(b, "lena")  # listens: she sees the log's order
    carla = await cluster.irc(b, "carla")
    await carla.join("general")
    await anna.wait_for('[server] "carla" joined #general')

    # Stopped for 3 s: less than a node's presence lasts (6 s), so node a
    # is late, not gone.
    cluster.freeze(a)
    stopped = reactor.seconds()
    # Node b goes on: its people hear each other while node a is stopped.
    for i in range(10):
        bruno.send(f"MSG while a is stopped {i}")
    carla.send("PRIVMSG #general :carla while a is stopped")
    await carla.wait_for(
        "PRIVMSG", lambda m: m.params[1] == "while a is stopped 9", timeout=STOPPED
    )
    await bruno.wait_for("[carla] carla while a is stopped", timeout=STOPPED)
    await wait_said([lena], 11, timeout=STOPPED)
    assert said_to_netcat(anna) == []  # node a is stopped
    await pause(max(0.0, STOPPED - (reactor.seconds() - stopped)))
    cluster.thaw(a)

    # Once resumed, node a catches up: anna reads all of it, in order.
    await wait_said([anna], 11, timeout=5)
    assert said_to_netcat(anna) == said_to_netcat(lena)
    assert in_order(said_to_netcat(anna), "bruno") == [
        f"while a is stopped {i}" for i in range(10)
    ]
    anna.send("MSG I am back")
    await bruno.wait_for("[anna] I am back")
    assert not any('disconnected "anna"' in line for line in bruno.lines)
    assert await netcat_names(bruno) == {"anna", "bruno", "carla", "lena"}
    assert_no_errors(cluster)


@pytest_twisted.ensureDeferred
async def test_later_node_knows_the_chat(cluster: Cluster) -> None:
    (a,) = await cluster.start_nodes("a")
    bruno = await cluster.irc(a, "bruno")
    await bruno.join("general")  # the first: the operator, who sets topics
    await bruno.join("later")
    anna = await cluster.netcat(a, "anna")
    bruno.send("TOPIC #general :set before node b started")
    bruno.send("TOPIC #later :the later room")
    await anna.wait_for('"bruno" set the topic of #general')
    # A long log for node b to read before its first user arrives.
    for i in range(300):
        anna.send(f"MSG filling the log {i}")
    await bruno.wait_for("PRIVMSG", lambda m: m.params[1] == "filling the log 299")

    # Listening, maybe still reading the log: carla comes at once.
    b = await cluster.start_node("b", ready=False)
    carla = await NetcatUser.connect(b.ports["line"])
    cluster.clients.append(carla)
    arrived = await carla.wait_for("[server] you are in #general")
    # The topic comes with the arrival, not later: node b knew it already.
    topic_line = await carla.wait_for("[server] topic of #general", timeout=2)
    assert topic_line == "[server] topic of #general: set before node b started"
    assert carla.lines.index(topic_line) == carla.lines.index(arrived) + 1
    carla.send("NICK carla")
    await carla.wait_for('[server] you are now known as "carla"')
    assert await netcat_names(carla) == {"anna", "bruno", "carla"}
    seen = len(carla.lines)
    carla.send("JOIN later")
    joined = await carla.wait_for("[server] you are in #later", after=seen)
    assert joined == "[server] you are in #later (2 members)"
    topic_line = await carla.wait_for("[server] topic of #later", after=seen)
    assert topic_line == "[server] topic of #later: the later room"
    assert carla.lines.index(topic_line, seen) == carla.lines.index(joined, seen) + 1

    dora = await cluster.irc(b, "dora")
    seen = len(dora.messages)
    dora.send("LIST")
    end = await dora.wait_for("323", after=seen)
    listed = {
        m.params[1]: (m.params[2], m.params[3])
        for m in dora.messages[seen : dora.messages.index(end, seen)]
        if m.command == "322"
    }
    # anna and bruno in #general (carla went to #later); bruno and carla there.
    assert listed["#general"][0] == "2", listed
    assert listed["#general"][1].endswith("set before node b started"), listed
    assert listed["#later"][0] == "2", listed
    assert listed["#later"][1].endswith("the later room"), listed
    seen = len(dora.messages)
    await dora.join("later")
    topic = await dora.wait_for("332", after=seen)
    assert topic.params[1:] == ("#later", "the later room")
    assert await dora.names("later") == {"bruno", "carla", "dora"}
    assert_no_errors(cluster)


@pytest_twisted.ensureDeferred
async def test_browser_on_another_node(cluster: Cluster) -> None:
    why = missing()
    if why is not None:
        pytest.skip(why)
    a, b = await cluster.start_nodes("a", "b")
    anna = await cluster.netcat(a, "anna")
    browser = await Browser.start()
    try:
        await browser.open(f"http://127.0.0.1:{b.ports['web']}/")
        await browser.wait_for_state("connected")
        await browser.choose_nick("wendy")
        await browser.wait_for("You are in #general")
        await netcat_answer(anna, r'"wendy"')
        # The page's member list holds the people of the other node too.
        members = await browser.script(
            "return Array.from(document.querySelectorAll('#members .nick'))"
            ".map(e => e.textContent)"
        )
        assert sorted(members) == ["anna", "wendy"]
        anna.send("MSG hello wendy, from node a")
        await browser.wait_for("anna said: hello wendy, from node a")
        await browser.type("hello anna, from node b's page")
        await anna.wait_for("[wendy] hello anna, from node b's page")
        anna.send("NICK annie")
        await browser.wait_for("anna is now known as annie")
    finally:
        await browser.quit()
    assert_no_errors(cluster)
