"""The client's settings: options over config file over defaults."""

from __future__ import annotations

import os

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twistedchat.client.options import SettingsError, settings_from


class ClientOptionsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = FilePath(self.mktemp())
        self.folder.makedirs()
        self.environ = {"HOME": self.folder.path, "LANG": "fr_FR.UTF-8"}

    def config(self, text: str) -> str:
        path = self.folder.child("client.conf")
        path.setContent(text.encode("utf-8"))
        return path.path

    def test_defaults(self) -> None:
        settings = settings_from([], self.environ)
        self.assertEqual((settings.host, settings.port), ("localhost", 9999))
        self.assertEqual(
            (settings.nick, settings.room, settings.lang), (None, None, "fr")
        )
        self.assertEqual(settings.reconnect, 60)
        self.assertEqual(
            settings.state_dir,
            os.path.join(self.folder.path, ".local", "state", "twistedchat"),
        )
        self.assertEqual(
            settings.log_file, os.path.join(settings.state_dir, "client.log")
        )

    def test_options_win_over_the_file(self) -> None:
        path = self.config(
            "# mine\nHOST=chat.example.org\nPORT=4000\nNICK=toto\nROOM=#dev\n"
        )
        settings = settings_from(
            ["--config", path, "-p", "5000", "--lang", "en"], self.environ
        )
        self.assertEqual(
            (settings.host, settings.port, settings.nick, settings.room, settings.lang),
            ("chat.example.org", 5000, "toto", "dev", "en"),
        )

    def test_default_config_file_is_read(self) -> None:
        folder = self.folder.child(".config").child("twistedchat")
        folder.makedirs()
        folder.child("client.conf").setContent(b"NICK=tata\n")
        self.assertEqual(settings_from([], self.environ).nick, "tata")

    def test_bad_values_name_their_origin(self) -> None:
        path = self.config("PORT=7777\nCOLOUR=red\n")
        error = self.assertRaises(
            SettingsError, settings_from, ["--config", path], self.environ
        )
        self.assertIn(f"{path}, line 2: unknown key 'COLOUR'", str(error))
        path = self.config("NICK=bad nick\n")
        error = self.assertRaises(
            SettingsError, settings_from, ["--config", path], self.environ
        )
        self.assertIn(f"{path}, line 1, NICK: not a valid nick", str(error))
        for argv, message in [
            (["-p", "0"], "--port: not a port number (1-65535): '0'"),
            (["--room", "a/b"], "--room: not a valid room name: 'a/b'"),
            (["--reconnect", "-1"], "--reconnect: not a number of seconds"),
            (["--config", self.folder.child("nope").path], "cannot read it"),
        ]:
            error = self.assertRaises(SettingsError, settings_from, argv, self.environ)
            self.assertIn(message, str(error))
