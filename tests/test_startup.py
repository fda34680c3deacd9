"""
A server that cannot do its job says so in one line and stops: real twistd
processes, in the foreground (C{-n}) and as a daemon.
"""

from __future__ import annotations

import os
import socket
import subprocess

from twisted.trial.unittest import SynchronousTestCase

from .processes import (
    ServerProcess,
    daemon_pid,
    is_running,
    run_twistd,
    run_twistd_daemon,
    stop_daemon,
)

EPHEMERAL = ("--host", "127.0.0.1", "--port", "0", "--framed-port", "0")
EPHEMERAL_ALL = (*EPHEMERAL, "--irc-port", "0", "--web-port", "0")


class StartUpTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.data = os.path.join(self.folder, "twistedchat-data")

    def taken_port(self) -> int:
        """A loopback port some other program listens on."""
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port: int = holder.getsockname()[1]
        return port

    def daemon(self, folder: str, *arguments: str) -> subprocess.CompletedProcess[str]:
        """C{twistd twistedchat} as a daemon; stopped at the end if it started."""
        result = run_twistd_daemon(folder, *arguments)
        pid = daemon_pid(folder)
        if pid is not None:
            self.addCleanup(stop_daemon, pid)
        return result

    def assertStopsSaying(
        self, result: subprocess.CompletedProcess[str], line: str
    ) -> None:
        """The process failed, and said only C{line} on standard error."""
        self.assertNotEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stderr, f"twistedchat: {line}\n")
        self.assertNotIn("Traceback", result.stdout)


class CannotListenTests(StartUpTestCase):
    def test_each_front_whose_port_is_taken_stops_the_server(self) -> None:
        for front, option in [
            ("line", "--port"),
            ("framed", "--framed-port"),
            ("irc", "--irc-port"),
            ("web", "--web-port"),
        ]:
            port = self.taken_port()
            result = run_twistd(self.folder, *EPHEMERAL_ALL, option, str(port))
            self.assertStopsSaying(
                result,
                f"cannot listen on tcp:{port}:interface=127.0.0.1 for the {front} "
                "front: address already in use",
            )

    def test_an_address_of_no_interface(self) -> None:
        result = run_twistd(
            self.folder, *EPHEMERAL_ALL, "--line", "tcp:0:interface=192.0.2.1"
        )
        self.assertStopsSaying(
            result,
            "cannot listen on tcp:0:interface=192.0.2.1 for the line front: "
            "cannot assign requested address",
        )

    def test_an_endpoint_that_cannot_be_opened(self) -> None:
        socket_path = os.path.join(self.folder, "missing", "chat.sock")
        result = run_twistd(self.folder, *EPHEMERAL_ALL, "--irc", f"unix:{socket_path}")
        self.assertStopsSaying(
            result,
            f"cannot listen on unix:{socket_path} for the irc front: "
            "no such file or directory",
        )

    def test_an_endpoint_that_is_not_one(self) -> None:
        key = os.path.join(self.folder, "missing.pem")
        result = run_twistd(
            self.folder, *EPHEMERAL_ALL, "--line", f"ssl:0:privateKey={key}"
        )
        self.assertStopsSaying(
            result,
            f"--line: not a usable endpoint ([Errno 2] No such file or directory: "
            f"'{key}'): 'ssl:0:privateKey={key}'",
        )
        self.assertEqual(result.stdout, "")  # not twistd's usage text

    def test_a_daemon_that_cannot_listen_is_reported_by_its_parent(self) -> None:
        port = self.taken_port()
        result = self.daemon(self.folder, *EPHEMERAL_ALL, "--port", str(port))
        self.assertStopsSaying(
            result,
            f"cannot listen on tcp:{port}:interface=127.0.0.1 for the line front: "
            "address already in use",
        )
        self.assertIsNone(daemon_pid(self.folder))  # no daemon left behind


class DataFolderTests(StartUpTestCase):
    def test_a_file_in_place_of_the_data_folder(self) -> None:
        with open(self.data, "w") as file:
            file.write("not a folder\n")
        self.assertStopsSaying(
            run_twistd(self.folder, *EPHEMERAL_ALL),
            f"the data folder {self.data} is not a folder",
        )
        with open(self.data) as file:
            self.assertEqual(file.read(), "not a folder\n")  # left as it was

    def test_a_data_folder_that_cannot_be_made(self) -> None:
        blocker = os.path.join(self.folder, "blocker")
        with open(blocker, "w") as file:
            file.write("a file\n")
        data = os.path.join(blocker, "data")
        self.assertStopsSaying(
            run_twistd(self.folder, *EPHEMERAL_ALL, "--data-dir", data),
            f"cannot create the data folder {data}: not a directory",
        )

    def test_a_data_folder_that_cannot_be_written(self) -> None:
        if os.getuid() == 0:
            raise self.skipTest("root writes in a read-only folder")
        os.makedirs(self.data, mode=0o500)
        self.addCleanup(os.chmod, self.data, 0o700)
        self.assertStopsSaying(
            run_twistd(self.folder, *EPHEMERAL_ALL),
            f"cannot write in the data folder {self.data}: permission denied",
        )

    def test_a_file_in_place_of_the_history_folder(self) -> None:
        os.makedirs(self.data)
        history = os.path.join(self.data, "history")
        with open(history, "w") as file:
            file.write("not a folder\n")
        self.assertStopsSaying(
            run_twistd(self.folder, *EPHEMERAL_ALL),
            f"the history folder {history} is not a folder",
        )

    def test_a_daemon_on_an_unusable_data_folder(self) -> None:
        with open(self.data, "w") as file:
            file.write("not a folder\n")
        self.assertStopsSaying(
            self.daemon(self.folder, *EPHEMERAL_ALL),
            f"the data folder {self.data} is not a folder",
        )


class IdentityKeyTests(StartUpTestCase):
    def key_file(self, content: bytes | None) -> str:
        os.makedirs(self.data)
        path = os.path.join(self.data, "identity.key")
        if content is None:
            os.makedirs(path)  # a folder: cannot be read, even by root
        else:
            with open(path, "wb") as file:
                file.write(content)
        return path

    def test_a_key_too_short(self) -> None:
        path = self.key_file(b"00ff00ff\n")
        self.assertStopsSaying(
            run_twistd(self.folder, *EPHEMERAL_ALL),
            f"unusable identity key {path}: not a key of this server "
            "(identity secret too short (16 bytes at least))",
        )

    def test_a_key_that_is_not_hexadecimal(self) -> None:
        path = self.key_file(b"not a key at all\n")
        result = run_twistd(self.folder, *EPHEMERAL_ALL)
        self.assertNotEqual(result.returncode, 0)
        self.assertTrue(
            result.stderr.startswith(
                f"twistedchat: unusable identity key {path}: not a key of this server"
            ),
            result.stderr,
        )
        self.assertEqual(result.stderr.count("\n"), 1)

    def test_a_key_that_cannot_be_read(self) -> None:
        path = self.key_file(None)
        self.assertStopsSaying(
            run_twistd(self.folder, *EPHEMERAL_ALL),
            f"unusable identity key {path}: is a directory",
        )


class DataFolderLockTests(StartUpTestCase):
    def test_a_second_server_on_the_same_data_folder_stops(self) -> None:
        first = ServerProcess(self.folder).start()  # started with --pidfile=
        self.addCleanup(first.stop)
        second = run_twistd(self.folder, *EPHEMERAL_ALL)
        self.assertStopsSaying(
            second,
            f"the data folder {self.data} is in use by the server of pid "
            f"{first.process.pid} (locked: {self.data}/server.lock)",
        )
        # The first one is not disturbed, and once it is gone the folder is free.
        self.assertIsNone(first.process.poll())
        first.stop()
        ServerProcess(self.folder).start().stop()

    def test_the_daemon_holds_the_lock_with_its_own_pid(self) -> None:
        started = self.daemon(self.folder, *EPHEMERAL_ALL)
        self.assertEqual(started.returncode, 0, started.stderr)
        pid = daemon_pid(self.folder)
        assert pid is not None
        self.assertTrue(is_running(pid))
        other = os.path.join(self.folder, "other")
        os.makedirs(other)
        second = self.daemon(other, *EPHEMERAL_ALL, "--data-dir", self.data)
        self.assertStopsSaying(
            second,
            f"the data folder {self.data} is in use by the server of pid {pid} "
            f"(locked: {self.data}/server.lock)",
        )
        self.assertTrue(is_running(pid))
