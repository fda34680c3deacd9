"""
TLS on every front: the real server on C{ssl:} endpoints with a certificate of
a throwaway authority (L{tests.tls_certificates}), the real C{twistedchat}
client with C{--tls}, and raw TLS sockets standing in for netcat and IRC users.

The client must chat when the certificate is trusted and names the host, and
refuse for good, saying why, when either is not; the settings that lead there
are checked without processes.
"""

from __future__ import annotations

import os
import re
import ssl
import time

from OpenSSL import SSL
from twisted.internet.endpoints import quoteStringArgument
from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from twistedchat.client.connection import TLSProblem, secure_connection_refused
from twistedchat.client.options import SettingsError, settings_from

from .processes import ClientProcess, LineClient, ServerProcess
from .tls_certificates import Pki, make_common_name_only, make_pki

WELCOME = re.compile(r'^\[server\] welcome, you are "([^"]+)"')
DISCONNECTED = re.compile(r'client disconnected "')


def failure(error: BaseException) -> Failure:
    try:
        raise error
    except BaseException:
        return Failure()


class TLSSettingsTests(SynchronousTestCase):
    """C{--tls}, C{--ca-file}, C{TLS=} and C{CA_FILE=} become settings, or errors."""

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.pki = make_pki(self.folder)
        self.environ = {"HOME": self.folder, "LANG": "en_GB.UTF-8"}

    def config(self, text: str) -> str:
        path = os.path.join(self.folder, "client.conf")
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
        return path

    def error(self, argv: list[str]) -> str:
        return str(self.assertRaises(SettingsError, settings_from, argv, self.environ))

    def test_plain_by_default(self) -> None:
        settings = settings_from([], self.environ)
        self.assertEqual((settings.tls, settings.ca_certificates), (False, ()))

    def test_tls_with_a_ca_file(self) -> None:
        settings = settings_from(["--tls", "--ca-file", self.pki.ca_cert], self.environ)
        self.assertTrue(settings.tls)
        with open(self.pki.ca_cert, "rb") as ca:
            self.assertEqual(
                [c.dumpPEM() for c in settings.ca_certificates], [ca.read()]
            )

    def test_config_file_and_options(self) -> None:
        path = self.config("TLS=Yes\nCA_FILE=bundle.pem\n")
        with open(self.pki.ca_cert, "rb") as ca, open(self.pki.other_ca, "rb") as other:
            bundle = ca.read() + b"\n" + other.read()
        with open(os.path.join(self.folder, "bundle.pem"), "wb") as file:
            file.write(bundle)
        # CA_FILE is taken from the config file's folder, not the working one.
        settings = settings_from(["--config", path], self.environ)
        self.assertTrue(settings.tls)
        self.assertEqual(len(settings.ca_certificates), 2)
        # Turned off for one run, TLS leaves the file's CA alone.
        settings = settings_from(["--config", path, "--no-tls"], self.environ)
        self.assertEqual((settings.tls, settings.ca_certificates), (False, ()))
        # Never asked for, TLS is not silently off when a CA file is given.
        self.assertIn(
            "--ca-file: only used with TLS (--tls or TLS=yes)",
            self.error(["--ca-file", self.pki.ca_cert]),
        )
        path = self.config("TLS=maybe\n")
        self.assertIn(
            f"{path}, line 1, TLS: not yes or no: 'maybe'",
            self.error(["--config", path]),
        )

    def test_unusable_ca_files(self) -> None:
        missing = os.path.join(self.folder, "missing.pem")
        self.assertIn(
            "--ca-file: cannot read it (No such file or directory)",
            self.error(["--tls", "--ca-file", missing]),
        )
        self.assertIn(
            "--ca-file: no PEM certificate in it",
            self.error(["--tls", "--ca-file", self.pki.server_key]),
        )
        broken = os.path.join(self.folder, "broken.pem")
        with open(broken, "w") as file:
            file.write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n")
            file.write("-----END CERTIFICATE-----\n")
        self.assertIn(
            "--ca-file: not a valid PEM certificate",
            self.error(["--tls", "--ca-file", broken]),
        )


class RefusalTests(SynchronousTestCase):
    """Only a handshake that failed for good stops the client reconnecting."""

    def test_lost_connections_are_not_refusals(self) -> None:
        self.assertIsNone(secure_connection_refused(failure(ConnectionLost())))
        self.assertIsNone(
            secure_connection_refused(failure(SSL.SysCallError(-1, "Unexpected EOF")))
        )

    def test_openssl_errors(self) -> None:
        refused = secure_connection_refused(
            failure(SSL.Error([("SSL routines", "", "certificate verify failed")]))
        )
        assert refused is not None
        self.assertEqual(
            (refused.problem, refused.detail),
            (TLSProblem.UNTRUSTED, "certificate verify failed"),
        )
        refused = secure_connection_refused(
            failure(SSL.Error([("SSL routines", "", "wrong version number")]))
        )
        assert refused is not None
        self.assertEqual(refused.problem, TLSProblem.HANDSHAKE)


class TLSServerTestCase(SynchronousTestCase):
    """The real server with its three fronts on C{ssl:} endpoints."""

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.pki: Pki = make_pki(self.folder)
        key = quoteStringArgument(self.pki.server_key)
        cert = quoteStringArgument(self.pki.server_cert)
        endpoint = f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
        self.server = ServerProcess(
            self.folder, "--line", endpoint, "--framed", endpoint, "--irc", endpoint
        ).start()
        self.addCleanup(self.server.stop)

    def client(
        self, name: str, host: str, *arguments: str, tls: bool = True
    ) -> ClientProcess:
        client = ClientProcess(
            "-a",
            host,
            "-p",
            str(self.server.ports["framed"]),
            "--state-dir",
            os.path.join(self.folder, f"state-{name}"),
            "--nick",
            name,
            "--room",
            "general",
            "--tls" if tls else "--no-tls",
            "--lang",
            "en",
            *arguments,
            cwd=self.folder,
        )
        self.addCleanup(client.stop)
        return client

    def tls_socket(self, front: str) -> LineClient:
        """A netcat user, but over TLS, checking the certificate as a browser would."""
        user = LineClient(self.server.ports[front])
        context = ssl.create_default_context(cafile=self.pki.ca_cert)
        user.socket = context.wrap_socket(user.socket, server_hostname="localhost")
        self.addCleanup(user.close)
        return user

    def assert_still_serving(self) -> None:
        """
        A failed handshake leaves the server up, and we wait for it to see
        this TLS user leave (an unregistered client's departure is not logged).
        """
        netcat = self.tls_socket("line")
        self.assertRegex(netcat.read_line() or "", WELCOME)
        netcat.close()
        self.server.wait_for(DISCONNECTED)
        self.assertIsNone(self.server.process.poll())


class TLSClientTests(TLSServerTestCase):
    def test_chats_when_the_certificate_names_the_host(self) -> None:
        netcat = self.tls_socket("line")
        netcat.expect("[server] you are in #general")

        tina = self.client("tina", "localhost", "--ca-file", self.pki.ca_cert)
        tina.expect("Welcome tina!")
        tina.send("hello, secure world")
        tina.expect("You said: hello, secure world")
        netcat.expect("[tina] hello, secure world")

        tina.close_input()
        self.assertEqual(tina.wait(), 0)
        self.server.wait_for('client disconnected "tina"')
        netcat.close()
        self.server.wait_for(DISCONNECTED)

    def test_refuses_a_certificate_for_another_host(self) -> None:
        # The certificate names "localhost" only, not the address we dial.
        port = self.server.ports["framed"]
        started = time.monotonic()
        eve = self.client("eve", "127.0.0.1", "--ca-file", self.pki.ca_cert)
        eve.expect(
            f"Secure connection refused: the certificate of 127.0.0.1:{port} "
            "does not match the host name 127.0.0.1."
        )
        self.assertEqual(eve.wait(), 1)  # at once, though --reconnect is 60 s
        self.assertLess(time.monotonic() - started, 15)
        self.assertNotIn("Connection lost", eve.output)
        self.assertNotIn("Welcome", eve.output)
        self.assert_still_serving()

    def test_refuses_a_certificate_of_an_unknown_authority(self) -> None:
        port = self.server.ports["framed"]
        mallory = self.client(
            "mallory", "localhost", "--ca-file", self.pki.other_ca, "--lang", "fr"
        )
        mallory.expect(
            f"Connexion sécurisée refusée : le certificat de localhost:{port} "
            "n’est pas approuvé (certificate verify failed)."
        )
        self.assertEqual(mallory.wait(), 1)
        self.assertNotIn("Bienvenue", mallory.output)
        self.assert_still_serving()

    def test_without_tls_hints_at_tls_at_once(self) -> None:
        port = self.server.ports["framed"]
        started = time.monotonic()
        plain = self.client("plain", "localhost", "--reconnect", "4", tls=False)
        # On the first connection the server hangs up on, not after a minute
        # of "Connection lost" lines.
        plain.expect(
            f"localhost:{port} closed the connection without a word. Does it "
            "expect TLS (--tls)? Trying again for 4 s."
        )
        self.assertLess(time.monotonic() - started, 4)
        plain.expect(f"Cannot reach localhost:{port}, giving up.")
        self.assertEqual(plain.wait(), 1)
        # Every retry was hung up on alike: said once.
        self.assertEqual(plain.output.count("Does it expect TLS"), 1)
        self.assertNotIn("Connection lost", plain.output)
        self.assert_still_serving()


class CommonNameOnlyTests(TLSServerTestCase):
    """
    A self-signed certificate naming its host in the common name only, no
    subjectAltName: trusted (it is its own authority), and yet refused, since
    it names no host at all; the refusal is said, and not retried.
    """

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.pki = make_common_name_only(self.folder, "localhost")
        key = quoteStringArgument(self.pki.server_key)
        cert = quoteStringArgument(self.pki.server_cert)
        endpoint = f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
        self.server = ServerProcess(
            self.folder, "--line", endpoint, "--framed", endpoint, "--irc", endpoint
        ).start()
        self.addCleanup(self.server.stop)

    def test_refused_for_the_address_and_for_the_common_name(self) -> None:
        port = self.server.ports["framed"]
        for host in ["127.0.0.1", "localhost"]:
            started = time.monotonic()
            eve = self.client("eve", host, "--ca-file", self.pki.ca_cert)
            eve.expect(
                f"Secure connection refused: the certificate of {host}:{port} "
                f"does not match the host name {host}."
            )
            self.assertEqual(eve.wait(), 1)  # at once, though --reconnect is 60 s
            self.assertLess(time.monotonic() - started, 15)
            self.assertNotIn("Welcome", eve.output)
            self.assertNotIn("Trying again", eve.output)
            self.assertNotIn("Connection lost", eve.output)
        # The server never saw a Hello: nobody registered.
        self.assertNotIn("eve joined", "".join(self.server.output))


class EveryFrontTests(TLSServerTestCase):
    def test_line_and_irc_fronts_speak_tls(self) -> None:
        netcat = self.tls_socket("line")
        self.assertRegex(netcat.read_line() or "", WELCOME)
        netcat.send("MSG over TLS")

        ircy = self.tls_socket("irc")
        ircy.send("NICK ircy")
        ircy.send("USER ircy 0 * :An IRC user over TLS")
        welcome = ircy.read_line() or ""
        self.assertRegex(welcome, r"^:\S+ 001 ircy ")

        netcat.close()
        ircy.close()
        self.server.wait_for(DISCONNECTED)
        self.server.wait_for(DISCONNECTED)

    def test_plain_connection_to_a_tls_front_gets_nothing_readable(self) -> None:
        plain = LineClient(self.server.ports["line"])
        self.addCleanup(plain.close)
        plain.send("NICK plain")
        received = b""
        plain.socket.settimeout(10)
        while data := plain.socket.recv(65536):  # until the server hangs up
            received += data
        self.assertNotIn(b"welcome", received)
        self.assertNotIn(b"[server]", received)

        self.assert_still_serving()
