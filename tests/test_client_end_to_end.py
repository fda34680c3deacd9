"""Two real twistedchat clients over pipes, a netcat user and the real server."""

from __future__ import annotations

import os
import signal
import socket

from PIL import Image
from twisted.trial.unittest import SynchronousTestCase

from .processes import ClientProcess, LineClient, ServerProcess


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ClientTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)

    def start_server(self, *arguments: str) -> ServerProcess:
        server = ServerProcess(self.folder, *arguments).start()
        self.addCleanup(server.stop)
        return server

    def client(self, name: str, port: int, *arguments: str) -> ClientProcess:
        state = os.path.join(self.folder, f"state-{name}")
        client = ClientProcess(
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "--state-dir",
            state,
            *arguments,
            cwd=self.folder,
        )
        self.addCleanup(client.stop)
        return client


class TwoClientsTests(ClientTestCase):
    def test_chat_image_and_welcome_back(self) -> None:
        server = self.start_server()
        framed = server.ports["framed"]

        alice = self.client("alice", framed, "--lang", "fr")
        alice.expect("Pseudo : ")
        alice.send("alice")
        alice.expect("Bienvenue alice !")
        alice.expect("Aucun salon pour l’instant.")
        alice.expect("[general] : ")
        alice.send("")  # the default room
        alice.expect("Vous êtes dans #general")

        bob = self.client(
            "bob", framed, "--nick", "bob", "--room", "general", "--lang", "en"
        )
        bob.expect("Welcome bob!")
        alice.expect("bob a rejoint #general")

        netcat = LineClient(server.ports["line"])
        self.addCleanup(netcat.close)
        netcat.expect("[server] you are in #general")

        alice.send("bonjour à tous")
        alice.expect("Vous avez dit : bonjour à tous")
        bob.expect("alice said: bonjour à tous")
        netcat.expect("[alice] bonjour à tous")

        netcat.send("MSG salut de netcat")
        alice.expect(" a dit : salut de netcat")
        bob.expect(" said: salut de netcat")

        picture = os.path.join(self.folder, "square.png")
        image = Image.new("RGB", (40, 40), "white")
        image.paste((0, 0, 0), (10, 10, 30, 30))
        image.save(picture)
        bob.send(f"/image {picture}")
        art = alice.expect("bob a montré une image :")
        alice.expect("\n  ")
        self.assertNotIn("\x1b", art)
        netcat.expect("[bob] shows a picture:")

        bob.send("/image /no/such/picture.png")
        bob.expect("Cannot show that picture: ")

        alice.send("/quit à plus")
        self.assertEqual(alice.wait(), 0)
        bob.expect("alice left the chat (à plus)")

        back = self.client(
            "alice", framed, "--nick", "alice", "--room", "general", "--lang", "fr"
        )
        back.expect("Bon retour, alice !")
        bob.expect("alice is back in #general")
        back.send("je suis revenue")
        bob.expect("alice said: je suis revenue")

        back.close_input()
        self.assertEqual(back.wait(), 0)
        bob.close_input()
        self.assertEqual(bob.wait(), 0)
        server.wait_for('client disconnected "bob"')
        with open(os.path.join(self.folder, "state-bob", "client.log")) as log:
            conversation = log.read()
        for line in [
            "Welcome bob!",
            "alice said: bonjour à tous",
            "You showed a picture:",
            "alice is back in #general",
            "alice said: je suis revenue",
        ]:
            self.assertIn(line, conversation)


class ReconnectTests(ClientTestCase):
    def test_reconnects_when_the_server_comes_back(self) -> None:
        port = free_port()
        endpoint = ("--framed", f"tcp:{port}:interface=127.0.0.1")
        first = ServerProcess(self.folder, *endpoint).start()
        carol = self.client(
            "carol", port, "--nick", "carol", "--room", "dev", "--lang", "fr"
        )
        carol.expect("Vous êtes dans #dev")
        self.assertEqual(first.stop(), -15)
        carol.expect("Connexion perdue, reconnexion…")

        self.start_server(*endpoint)
        carol.expect("Bon retour, carol !")
        carol.expect("Vous êtes dans #dev")
        carol.send("me revoilà")
        carol.expect("Vous avez dit : me revoilà")
        carol.close_input()
        self.assertEqual(carol.wait(), 0)

    def test_gives_up_when_the_server_stays_away(self) -> None:
        server = self.start_server()
        dave = self.client(
            "dave",
            server.ports["framed"],
            "--nick",
            "dave",
            "--room",
            "dev",
            "--lang",
            "en",
            "--reconnect",
            "1",
        )
        dave.expect("You are in #dev")
        server.stop()
        dave.expect("Connection lost, reconnecting…")
        dave.expect("The server did not come back, giving up.")
        self.assertEqual(dave.wait(), 1)

    def test_cannot_reach_the_server(self) -> None:
        eve = self.client(
            "eve", free_port(), "--nick", "eve", "--lang", "en", "--reconnect", "0"
        )
        eve.expect("Cannot reach 127.0.0.1:")
        self.assertEqual(eve.wait(), 1)

    def test_ctrl_c_leaves_cleanly(self) -> None:
        server = self.start_server()
        frank = self.client(
            "frank", server.ports["framed"], "--nick", "frank", "--room", "x"
        )
        frank.expect("You are in #x")
        frank.process.send_signal(signal.SIGINT)
        self.assertEqual(frank.wait(), 0)
        server.wait_for('client disconnected "frank"')
        self.assertNotIn("Traceback", frank.output)

    def test_bad_settings_exit_2(self) -> None:
        for arguments, message in [
            (("--port", "99999"), "--port: not a port number (1-65535): '99999'"),
            (("--nick", "bad nick"), "--nick: not a valid nick"),
            (("--lang", "de"), "--lang: not one of fr, en"),
            (("--reconnect", "soon"), "--reconnect: not a number of seconds"),
        ]:
            client = self.client("x", 1, *arguments)
            self.assertEqual(client.wait(), 2, arguments)
            self.assertIn(message, client.output)
