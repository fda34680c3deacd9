"""The real `twistd -n twistedchat` with raw TCP clients on loopback."""

from __future__ import annotations

import os
import signal

from twisted.trial.unittest import SynchronousTestCase

from twistedchat.server.operators import hash_password

from .processes import LineClient, ServerProcess, run_twistd


class AssignmentSessionTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        with open(os.path.join(self.folder, "operators"), "w") as file:
            file.write(f"admin:{hash_password('secret')}\n")
        self.server = ServerProcess(
            self.folder, "--operators", "operators", "--log-messages", "yes"
        ).start()
        self.addCleanup(self.server.stop)

    def client(self, nick: str) -> LineClient:
        client = LineClient(self.server.ports["line"])
        self.addCleanup(client.close)
        client.expect("[server] you are in #general")
        client.send(f"NICK {nick}")
        client.expect(f'[server] you are now known as "{nick}"')
        return client

    def test_the_assignment_session(self) -> None:
        toto, tutu, tata = self.client("toto"), self.client("tutu"), self.client("tata")
        tata.send("NAMES")
        tata.expect("[server] toto tutu tata")

        tata.send("MSG hello world!")
        toto.expect("[tata] hello world!")
        tutu.expect("[tata] hello world!")

        toto.send("QUIT bye bye")
        toto.expect_closed()
        for other in (tutu, tata):
            other.expect("[toto] bye bye")
            other.expect('[server] client disconnected "toto"')

        tata.send("OPER admin secret")
        tata.expect('[server] you are now a server operator ("admin")')
        tata.send("KILL tutu I kill you!")
        tutu.expect("[tata] I kill you!")
        tutu.expect_closed()
        tata.expect('[server] "tutu" was disconnected')

        tata.send("FOO")
        tata.expect('[server] error: unknown command "FOO"; type HELP for the commands')
        tata.send("QUIT ciao")
        tata.expect_closed()

        self.server.wait_for('client disconnected "tata"')
        log = "".join(self.server.output)
        for expected in [
            'client connected "127.0.0.1:',
            'client "127.0.0.1:',
            '=> "toto"',
            "message from tata in general relayed to 2 members: hello world!",
            "tata killed tutu (I kill you!)",
        ]:
            self.assertIn(expected, log)
        # twistd re-raises the signal it stopped on, after a clean shutdown.
        self.assertEqual(self.server.stop(), -signal.SIGTERM)
        self.assertIn("Main loop terminated.", "".join(self.server.output))


class StartUpErrorTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)

    def test_bad_option_exits_non_zero_with_reason(self) -> None:
        result = run_twistd(self.folder, "--port", "99999")
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(
            result.stderr,
            "twistedchat: --port: not a port number (0-65535): '99999'\n",
        )
        self.assertEqual(result.stdout, "")  # not twistd's usage text

    def test_bad_config_line_exits_non_zero_naming_it(self) -> None:
        config = os.path.join(self.folder, "chat.conf")
        with open(config, "w") as file:
            file.write("PORT=7777\nDEFAULT_ROOM=../etc\n")
        result = run_twistd(self.folder, "--config", config)
        self.assertNotEqual(result.returncode, 0)
        self.assertTrue(
            result.stderr.startswith(
                f"twistedchat: {config}, line 2, DEFAULT_ROOM: not a room name"
            ),
            result.stderr,
        )
        self.assertEqual(result.stderr.count("\n"), 1)
