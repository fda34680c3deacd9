"""Server options, config file, operators file and the service tree."""

from __future__ import annotations

import io
import os
import sys
from dataclasses import replace
from typing import cast

from twisted.application.service import IServiceCollection
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import reactor
from twisted.internet.interfaces import IReactorThreads
from twisted.internet.testing import MemoryReactorClock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twistedchat.core.service import ChatService
from twistedchat.fronts.framed import FramedFront
from twistedchat.fronts.irc import IRCFront
from twistedchat.fronts.line import LineFront
from twistedchat.server import passwd
from twistedchat.server.keys import KeyFileError
from twistedchat.server.operators import (
    OperatorsChecker,
    OperatorsFileError,
    hash_password,
    parse_operators,
)
from twistedchat.server.options import SETTINGS, Options, ServerSettings
from twistedchat.server.startup import DataFolder, StartupError
from twistedchat.server.tap import build_service


class ParsesSettings(SynchronousTestCase):
    """Settings parsed as twistd's command line would give them."""

    def parse(self, *argv: str) -> ServerSettings:
        options = Options()
        options.parseOptions(list(argv))
        return options.settings

    def refused(self, *argv: str) -> str:
        """What the refusal says: one line on standard error, exit status 1."""
        error = io.StringIO()
        self.patch(sys, "stderr", error)
        exit = self.assertRaises(SystemExit, self.parse, *argv)
        self.assertEqual(exit.code, 1)
        line = error.getvalue()
        self.assertTrue(line.startswith("twistedchat: ") and line.count("\n") == 1)
        return line.removeprefix("twistedchat: ").removesuffix("\n")


class OptionsTests(ParsesSettings):
    def setUp(self) -> None:
        self.folder = FilePath(self.mktemp())
        self.folder.makedirs()

    def write(self, name: str, text: str) -> str:
        path = self.folder.child(name)
        path.setContent(text.encode("utf-8"))
        return path.path

    def test_defaults(self) -> None:
        self.assertEqual(
            self.parse(),
            ServerSettings(
                line_endpoint="tcp:7777:interface=0.0.0.0:backlog=1024",
                max_line=4096,
                framed_endpoint="tcp:9999:interface=0.0.0.0:backlog=1024",
                max_frame=65536,
                data_dir=os.path.abspath("twistedchat-data"),
                default_room="general",
                operators=None,
                irc_endpoint="tcp:6667:interface=0.0.0.0:backlog=1024",
                web_endpoint="tcp:8080:interface=0.0.0.0:backlog=1024",
            ),
        )

    def test_config_file_and_options_win(self) -> None:
        operators = self.write("ops", f"admin:{hash_password('pw')}\n")
        config = self.write(
            "chat.conf",
            "# twistedchat\n\nHOST=127.0.0.1\nPORT = 8000\n"
            "DEFAULT_ROOM=#lobby\nOPERATORS=ops\nmax_line=100\n",
        )
        settings = self.parse("--config", config, "--port", "9000")
        self.assertEqual(
            settings.line_endpoint, "tcp:9000:interface=127.0.0.1:backlog=1024"
        )
        self.assertEqual(settings.default_room, "lobby")
        self.assertEqual(settings.operators, operators)  # relative to the config file
        self.assertEqual(settings.max_line, 100)

    def test_message_texts_are_logged_only_when_asked(self) -> None:
        self.assertFalse(self.parse().log_messages)
        self.assertTrue(self.parse("--log-messages", "YES").log_messages)
        config = self.write("chat.conf", "LOG_MESSAGES=yes\n")
        self.assertTrue(self.parse("--config", config).log_messages)
        self.assertEqual(
            self.refused("--log-messages", "sometimes"),
            "--log-messages: not yes or no: 'sometimes'",
        )

    def test_empty_default_room_means_none(self) -> None:
        self.assertIsNone(self.parse("--default-room", "").default_room)

    def test_endpoint_overrides_host_and_port(self) -> None:
        settings = self.parse("--line", "tcp6:port=0:interface=\\:\\:1", "--port", "1")
        self.assertEqual(settings.line_endpoint, "tcp6:port=0:interface=\\:\\:1")

    def test_web_front_settings(self) -> None:
        settings = self.parse("--web-port", "8081", "--host", "127.0.0.1")
        self.assertEqual(
            settings.web_endpoint, "tcp:8081:interface=127.0.0.1:backlog=1024"
        )
        self.assertEqual(self.parse("--web", "tcp:0").web_endpoint, "tcp:0")
        config = self.write(
            "web.conf", "WEB_ORIGINS=https://Chat.example.org/, http://localhost:8080\n"
        )
        self.assertEqual(
            self.parse("--config", config).web_origins,
            ("https://chat.example.org", "http://localhost:8080"),
        )
        self.assertEqual(self.parse().web_origins, ())
        for bad in ("chat.example.org", "ftp://chat.example.org", "https://a.org/page"):
            self.assertIn(
                f"--web-origins: not an origin (http:// or https://, a host, maybe "
                f"a port): {bad!r}",
                self.refused("--web-origins", bad),
            )

    def test_ipv6_host_is_escaped(self) -> None:
        self.assertEqual(
            self.parse("--host", "::").line_endpoint,
            "tcp:7777:interface=\\:\\::backlog=1024",
        )

    def test_bad_values_name_their_origin(self) -> None:
        self.assertEqual(
            self.refused("--port", "70000"),
            "--port: not a port number (0-65535): '70000'",
        )
        self.assertIn(
            "--host: not an IP address: 'example'", self.refused("--host", "example")
        )
        self.assertIn(
            "--default-room: not a room name", self.refused("--default-room", "a/b")
        )
        self.assertIn("--max-line: not a positive", self.refused("--max-line", "0"))
        self.assertIn(
            "--line: not a usable endpoint", self.refused("--line", "bogus:1")
        )
        self.assertIn(
            "--line: not a usable endpoint", self.refused("--line", "tcp:notaport")
        )

    def test_server_name_from_option_or_config(self) -> None:
        self.assertEqual(self.parse().server_name, "twistedchat")
        self.assertEqual(
            self.parse("--server-name", "irc.example.org").server_name,
            "irc.example.org",
        )
        config = self.write("chat.conf", "SERVER_NAME=My.Little.Server\n")
        self.assertEqual(self.parse("--config", config).server_name, "My.Little.Server")

    def test_bad_server_names_are_refused(self) -> None:
        for bad in ("", "irc example", "irc..example", ".irc", "irc.", "-irc", "a:b"):
            self.assertEqual(
                self.refused("--server-name", bad),
                "--server-name: not an IRC server name (up to 63 letters, digits, "
                f"hyphens and dots, like irc.example.org): {bad!r}",
            )
        self.assertIn(
            "--server-name: not an IRC server name",
            self.refused("--server-name", "a" * 64),
        )
        config = self.write("chat.conf", "SERVER_NAME=caf\u00e9\n")
        self.assertIn("not an IRC server name", self.refused("--config", config))

    def test_server_info_from_option_or_config_and_bad_ones(self) -> None:
        self.assertEqual(self.parse().server_info, "a chat service built on Twisted")
        self.assertEqual(
            self.parse("--server-info", "test server").server_info, "test server"
        )
        config = self.write("chat.conf", "SERVER_INFO=Our chat, since 2024\n")
        self.assertEqual(
            self.parse("--config", config).server_info, "Our chat, since 2024"
        )
        for bad in ("", "  ", "a" * 101, "tab\there"):
            self.assertEqual(
                self.refused("--server-info", bad),
                "--server-info: not a server description (1 to 100 printable "
                f"characters): {bad!r}",
            )

    def test_bad_config_lines_name_file_line_and_key(self) -> None:
        path = self.write("bad.conf", "PORT=7777\nCOLOR=blue\n")
        self.assertEqual(
            self.refused("--config", path),
            f"{path}, line 2: unknown key 'COLOR' (known keys: "
            + ", ".join(setting.key for setting in SETTINGS)
            + ")",
        )
        path = self.write("bad.conf", "# ok\nPORT=abc\n")
        self.assertEqual(
            self.refused("--config", path),
            f"{path}, line 2, PORT: not a port number (0-65535): 'abc'",
        )
        path = self.write("bad.conf", "just words\n")
        self.assertIn("line 1: expected KEY=VALUE", self.refused("--config", path))
        path = self.write("bad.conf", "PORT=1\nPORT=2\n")
        self.assertIn(
            "line 2, PORT: given twice (first at", self.refused("--config", path)
        )
        missing = self.folder.child("missing.conf").path
        self.assertEqual(
            self.refused("--config", missing),
            f"config file {missing}: cannot read it: No such file or directory",
        )

    def test_broken_operators_file_stops_start_up(self) -> None:
        path = self.write("ops", "admin:plaintext\n")
        self.assertIn(
            f"--operators: {path}, line 1: operator 'admin'",
            self.refused("--operators", path),
        )


class OperatorsFileTests(SynchronousTestCase):
    def test_parse(self) -> None:
        stored = hash_password("pw")
        self.assertEqual(
            parse_operators(f"# ops\n\nadmin : {stored}\n", "f"), {"admin": stored}
        )
        for text, why in [
            ("admin\n", "f, line 1: expected NAME:HASH"),
            ("admin:md5$abc\n", "f, line 1: operator 'admin': not a scrypt hash"),
            (
                "a:scrypt$x$8$1$AA==$AA==\n",
                "f, line 1: operator 'a': malformed scrypt hash",
            ),
            (
                "a:scrypt$3$8$1$AA==$AA==\n",
                "f, line 1: operator 'a': malformed scrypt hash",
            ),
            (f"a:{stored}\na:{stored}\n", "f, line 2: operator 'a' appears twice"),
        ]:
            error = self.assertRaises(OperatorsFileError, parse_operators, text, "f")
            self.assertTrue(str(error).startswith(why), (str(error), why))

    def test_hash_is_salted_and_not_the_password(self) -> None:
        password = "correct horse"  # a space: never part of base64
        first, second = hash_password(password), hash_password(password)
        self.assertNotEqual(first, second)
        self.assertNotIn(password, first)

    def test_passwd_command_adds_and_replaces(self) -> None:
        path = FilePath(self.mktemp())
        self.patch(sys, "stdin", io.StringIO("first\n"))
        self.patch(sys, "stdout", io.StringIO())
        self.assertEqual(passwd.main([path.path, "admin"]), 0)
        self.patch(sys, "stdin", io.StringIO("second\n"))
        self.assertEqual(passwd.main([path.path, "other"]), 0)
        self.patch(sys, "stdin", io.StringIO("third\n"))
        self.assertEqual(passwd.main([path.path, "admin"]), 0)
        entries = parse_operators(path.getContent().decode(), path.path)
        self.assertEqual(sorted(entries), ["admin", "other"])
        self.assertEqual(os.stat(path.path).st_mode & 0o777, 0o600)
        self.assertNotIn(b"third", path.getContent())


class OperatorsCheckerTests(TestCase):
    """The real checker, hashing in the reactor's thread pool."""

    def setUp(self) -> None:
        path = FilePath(self.mktemp())
        path.setContent(f"admin:{hash_password('secret')}\n".encode())
        self.checker = OperatorsChecker(cast(IReactorThreads, reactor), path)

    def test_right_password(self) -> object:
        checking = self.checker.requestAvatarId(UsernamePassword(b"admin", b"secret"))
        return checking.addCallback(self.assertEqual, b"admin")

    def test_wrong_password_and_unknown_name(self) -> object:
        wrong = self.checker.requestAvatarId(UsernamePassword(b"admin", b"guess"))
        unknown = self.checker.requestAvatarId(UsernamePassword(b"nobody", b"secret"))
        return self.assertFailure(wrong, UnauthorizedLogin).addCallback(
            lambda _: self.assertFailure(unknown, UnauthorizedLogin)
        )


class ServiceTreeTests(SynchronousTestCase):
    def settings(self, data_dir: str) -> ServerSettings:
        return ServerSettings(
            line_endpoint="tcp:7001:interface=127.0.0.1",
            max_line=4096,
            framed_endpoint="tcp:7002:interface=127.0.0.1",
            max_frame=1000,
            data_dir=data_dir,
            default_room="general",
            operators=None,
        )

    def test_each_front_listens_on_its_endpoint(self) -> None:
        fake = MemoryReactorClock()
        top = build_service(self.settings(self.mktemp()), fake)
        self.assertEqual(
            [s.name for s in IServiceCollection(top)],
            ["data", "history", "read-markers", "line", "framed"],
        )
        self.addCleanup(_data(top).release)
        collection = IServiceCollection(top)
        fronts = [collection.getServiceNamed(name) for name in ("line", "framed")]
        for front in fronts:  # the history has its own tests, with real threads
            front.startService()
        (line_port, line, _, line_interface), (framed_port, framed, _, _) = (
            fake.tcpServers
        )
        self.assertEqual((line_port, line_interface), (7001, "127.0.0.1"))
        self.assertEqual(framed_port, 7002)
        assert isinstance(line, LineFront) and isinstance(framed, FramedFront)
        self.assertIs(line.service, framed.service)
        self.assertEqual(line.service.default_room, "general")
        self.assertEqual(framed.max_frame, 1000)
        for front in fronts:
            self.successResultOf(front.stopService())

    def test_irc_front_goes_by_the_server_name(self) -> None:
        fake = MemoryReactorClock()
        settings = replace(
            self.settings(self.mktemp()),
            irc_endpoint="tcp:7003:interface=127.0.0.1",
            server_name="irc.example.org",
        )
        top = build_service(settings, fake)
        self.addCleanup(_data(top).release)
        listener = IServiceCollection(top).getServiceNamed("irc")
        listener.startService()
        (port, irc, _, _) = fake.tcpServers[-1]
        self.assertEqual(port, 7003)
        assert isinstance(irc, IRCFront)
        self.assertEqual(irc.server_name, "irc.example.org")
        self.successResultOf(listener.stopService())

    def test_identity_key_is_made_once_and_kept(self) -> None:
        data_dir = self.mktemp()
        first = build_service(self.settings(data_dir), MemoryReactorClock())
        _data(first).release()  # as when its process ends
        key = FilePath(data_dir).child("identity.key")
        self.assertEqual(os.stat(key.path).st_mode & 0o777, 0o600)
        second = build_service(self.settings(data_dir), MemoryReactorClock())
        _data(second).release()
        tokens = [_chat(top).identities.token("someone") for top in (first, second)]
        self.assertEqual(tokens[0], tokens[1])

    def test_unusable_identity_key_is_reported(self) -> None:
        data_dir = FilePath(self.mktemp())
        data_dir.makedirs()
        data_dir.child("identity.key").setContent(b"not hex\n")
        error = self.assertRaises(
            KeyFileError,
            build_service,
            self.settings(data_dir.path),
            MemoryReactorClock(),
        )
        self.assertEqual(
            str(error),
            f"unusable identity key {data_dir.child('identity.key').path}: "
            "not a key of this server (non-hexadecimal number found in fromhex() "
            "arg at position 0)",
        )
        # The folder is not left locked by a start-up that failed.
        data_dir.child("identity.key").remove()
        top = build_service(self.settings(data_dir.path), MemoryReactorClock())
        _data(top).release()

    def test_a_second_tree_on_the_same_data_folder_is_refused(self) -> None:
        data_dir = os.path.abspath(self.mktemp())
        first = build_service(self.settings(data_dir), MemoryReactorClock())
        self.addCleanup(_data(first).release)
        error = self.assertRaises(
            StartupError, build_service, self.settings(data_dir), MemoryReactorClock()
        )
        self.assertEqual(
            str(error),
            f"the data folder {data_dir} is in use by the server of pid "
            f"{os.getpid()} (locked: {data_dir}/server.lock)",
        )


def _data(top: object) -> DataFolder:
    data = IServiceCollection(top).getServiceNamed("data")
    assert isinstance(data, DataFolder)
    return data


def _chat(top: object) -> ChatService:
    factory = IServiceCollection(top).getServiceNamed("line").factory
    assert isinstance(factory, LineFront)
    return factory.service
