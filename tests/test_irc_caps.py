"""
The IRC front's capability negotiation (CAP LS, LIST, REQ, END) and its
rendering variants: one broadcaster per set of rendering capabilities.
"""

from __future__ import annotations

from typing import ClassVar

from twisted.trial.unittest import SynchronousTestCase

from twistedchat.fronts.irc.capabilities import (
    CAPABILITIES,
    RENDERING,
    Capability,
    advertised,
    requested,
    split_lines,
)

from .test_irc_front import NOW_TAG, OFFERED, IRCFrontTestCase


class TableTests(SynchronousTestCase):
    table: ClassVar[dict[str, Capability]] = {
        "plain": Capability("plain"),
        "valued": Capability("valued", "a,b"),
    }

    def test_values_only_for_cap_302(self) -> None:
        self.assertEqual(advertised(301, self.table), ["plain", "valued"])
        self.assertEqual(advertised(302, self.table), ["plain", "valued=a,b"])

    def test_lines_keep_within_their_budget(self) -> None:
        words = [f"capability-{n}" for n in range(40)]
        lines = split_lines(words, 100)
        self.assertGreater(len(lines), 1)
        self.assertTrue(all(len(line.encode()) <= 100 for line in lines), lines)
        self.assertEqual(" ".join(lines).split(), words)
        self.assertEqual(split_lines([]), [""])

    def test_req_is_all_or_nothing(self) -> None:
        held = frozenset({"plain"})
        self.assertEqual(requested(held, "valued", self.table), {"plain", "valued"})
        self.assertEqual(requested(held, "-plain valued", self.table), {"valued"})
        self.assertIsNone(requested(held, "valued nope", self.table))
        self.assertIsNone(requested(held, "-nope", self.table))
        self.assertIsNone(requested(held, "", self.table))

    def test_rendering_capabilities_are_those_that_say_so(self) -> None:
        self.assertIn("server-time", RENDERING)
        self.assertNotIn("cap-notify", RENDERING)
        self.assertLessEqual(RENDERING, set(CAPABILITIES))


class NegotiationTests(IRCFrontTestCase):
    def test_cap_ls_without_302_is_one_line_without_values(self) -> None:
        toto = self.client()
        toto.send("CAP LS")
        self.assertEqual(toto.lines(), [f":twistedchat CAP * LS :{OFFERED}"])
        toto.send("CAP LIST")
        self.assertEqual(toto.lines(), [":twistedchat CAP * LIST :"])

    def test_cap_302_holds_cap_notify(self) -> None:
        toto = self.client()
        toto.send("CAP LS 302", "CAP LIST")
        self.assertEqual(toto.lines()[-1:], [":twistedchat CAP * LIST cap-notify"])

    def test_req_of_several_is_acked_at_once_and_listed(self) -> None:
        toto = self.client()
        toto.send("CAP LS", "CAP REQ :server-time cap-notify", "CAP LIST")
        self.assertEqual(
            toto.lines()[1:],
            [
                ":twistedchat CAP * ACK :server-time cap-notify",
                ":twistedchat CAP * LIST :cap-notify server-time",
            ],
        )

    def test_a_refused_req_changes_nothing(self) -> None:
        toto = self.register("toto", "#general")
        toto.send("CAP REQ :server-time", "CAP REQ :-server-time sasl", "CAP LIST")
        self.assertEqual(
            toto.lines()[-3:],
            [
                ":twistedchat CAP toto ACK server-time",
                ":twistedchat CAP toto NAK :-server-time sasl",
                ":twistedchat CAP toto LIST server-time",
            ],
        )

    def test_empty_req_is_refused(self) -> None:
        toto = self.client()
        toto.send("CAP REQ")
        self.assertEqual(toto.lines(), [":twistedchat CAP * NAK :"])


class VariantTests(IRCFrontTestCase):
    def test_clients_of_one_variant_share_a_broadcaster(self) -> None:
        tata = self.register("tata", "#general", tagged=True)
        titi = self.register("titi", "#general", tagged=True)
        plain = self.register("plain", "#general")
        self.assertIs(tata.protocol.broadcaster, titi.protocol.broadcaster)
        self.assertIsNot(tata.protocol.broadcaster, plain.protocol.broadcaster)
        self.assertIs(plain.protocol.broadcaster, self.front.broadcaster)
        self.assertIs(
            tata.protocol.broadcaster,
            self.front.broadcaster_of(frozenset({"server-time"})),
        )

    def test_giving_up_the_last_rendering_capability_renders_plain(self) -> None:
        toto, tutu = self.connect_all("toto", "tutu")
        toto.send("CAP REQ :server-time cap-notify")
        tutu.send("PRIVMSG #general :one")
        toto.send("CAP REQ :-server-time")
        tutu.send("PRIVMSG #general :two")
        line = f":{self.mask('tutu')} PRIVMSG #general"
        self.assertEqual(
            toto.lines(),
            [
                ":twistedchat CAP toto ACK :server-time cap-notify",
                f"{NOW_TAG} {line} one",
                ":twistedchat CAP toto ACK -server-time",
                f"{line} two",
            ],
        )
        self.assertIs(toto.protocol.broadcaster, self.front.broadcaster)
