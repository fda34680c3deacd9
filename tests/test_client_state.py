"""Tests for twistedchat.client.state: resume tokens kept between runs."""

from __future__ import annotations

import json
import os
import stat

from twisted.trial.unittest import SynchronousTestCase

from twistedchat.client.state import TOKENS_FILE, TokenStore, default_state_dir


class TokenStoreTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = os.path.join(self.mktemp(), "state", "twistedchat")
        self.path = os.path.join(self.directory, TOKENS_FILE)

    def write(self, content: bytes) -> None:
        os.makedirs(self.directory)
        with open(self.path, "wb") as file:
            file.write(content)

    def test_empty(self) -> None:
        """With no file (nor directory) yet, there is no token."""
        self.assertEqual(TokenStore(self.directory).get("chat.example:6667"), "")
        self.assertFalse(os.path.exists(self.directory))

    def test_round_trip(self) -> None:
        """A token put by one run is there for the next, one per server."""
        first = TokenStore(self.directory)
        first.put("chat.example:6667", "a1.sig")
        first.put("127.0.0.1:7000", "b2.sig")
        first.put("chat.example:6667", "a3.sig")
        self.assertEqual(first.get("chat.example:6667"), "a3.sig")

        second = TokenStore(self.directory)
        self.assertEqual(second.get("chat.example:6667"), "a3.sig")
        self.assertEqual(second.get("127.0.0.1:7000"), "b2.sig")
        self.assertEqual(second.get("chat.example:7000"), "")

    def test_forget(self) -> None:
        """Putting an empty token forgets the server's token."""
        TokenStore(self.directory).put("chat.example:6667", "a1.sig")
        TokenStore(self.directory).put("chat.example:6667", "")
        self.assertEqual(TokenStore(self.directory).get("chat.example:6667"), "")

    def test_private(self) -> None:
        """The directory and the file are the user's alone."""
        TokenStore(self.directory).put("chat.example:6667", "a1.sig")
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.directory).st_mode), 0o700)

    def test_no_temporary_files_left(self) -> None:
        store = TokenStore(self.directory)
        store.put("chat.example:6667", "a1.sig")
        store.put("chat.example:6667", "a2.sig")
        self.assertEqual(os.listdir(self.directory), [TOKENS_FILE])

    def test_file_is_json(self) -> None:
        """The file is a plain JSON mapping from server to token and nick."""
        TokenStore(self.directory).put("chat.example:6667", "a1.sig", "toto")
        with open(self.path, "rb") as file:
            self.assertEqual(
                json.load(file),
                {"chat.example:6667": {"token": "a1.sig", "nick": "toto"}},
            )

    def test_the_nick_is_kept_with_the_token(self) -> None:
        """The next run knows the identity's nick: it need not ask one."""
        TokenStore(self.directory).put("chat.example:6667", "a1.sig", "toto")
        store = TokenStore(self.directory)
        self.assertEqual(store.nick("chat.example:6667"), "toto")
        self.assertEqual(store.get("chat.example:6667"), "a1.sig")
        self.assertEqual(store.nick("127.0.0.1:7000"), "")

    def test_a_bare_token_has_no_nick(self) -> None:
        """A file of an earlier version (server: token) still gives its tokens."""
        self.write(json.dumps({"a:1": "a1.sig"}).encode())
        store = TokenStore(self.directory)
        self.assertEqual((store.get("a:1"), store.nick("a:1")), ("a1.sig", ""))

    def test_two_clients_of_one_user_share_the_file(self) -> None:
        """A client started earlier does not erase what another one saved since."""
        first = TokenStore(self.directory)
        second = TokenStore(self.directory)
        second.put("b:2", "b2.sig", "bob")
        first.put("a:1", "a1.sig", "toto")
        third = TokenStore(self.directory)
        self.assertEqual(third.get("b:2"), "b2.sig")
        self.assertEqual(third.nick("a:1"), "toto")

    def test_corrupt_file(self) -> None:
        """A damaged file is taken as empty, then replaced at the next put."""
        for content in [b'{"chat.example:6667": "a1', b"\xff\xfe", b'["a1"]']:
            self.write(content)
            store = TokenStore(self.directory)
            self.assertEqual(store.get("chat.example:6667"), "")
            store.put("127.0.0.1:7000", "b2.sig")
            self.assertEqual(TokenStore(self.directory).get("127.0.0.1:7000"), "b2.sig")
            os.remove(self.path)
            os.rmdir(self.directory)

    def test_odd_entries_ignored(self) -> None:
        """Entries whose token is not a string are dropped, the others kept."""
        self.write(json.dumps({"a:1": "a1.sig", "b:2": 7, "c:3": None}).encode())
        store = TokenStore(self.directory)
        self.assertEqual(
            [store.get(server) for server in ["a:1", "b:2", "c:3"]], ["a1.sig", "", ""]
        )

    def test_unreadable_file(self) -> None:
        """A tokens file that cannot be read (a directory here) is taken as empty."""
        os.makedirs(self.path)
        self.assertEqual(TokenStore(self.directory).get("chat.example:6667"), "")

    def test_cannot_save(self) -> None:
        """A failure to save is logged; the token is kept for this run."""
        os.makedirs(os.path.dirname(self.directory))
        with open(self.directory, "w") as file:
            file.write("in the way\n")
        store = TokenStore(self.directory)
        store.put("chat.example:6667", "a1.sig")
        self.assertEqual(store.get("chat.example:6667"), "a1.sig")
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)


class DefaultStateDirTests(SynchronousTestCase):
    def test_xdg_state_home(self) -> None:
        environ = {"XDG_STATE_HOME": "/srv/state", "HOME": "/h/ann"}
        self.assertEqual(default_state_dir(environ), "/srv/state/twistedchat")

    def test_home(self) -> None:
        environ = {"HOME": "/h/ann"}
        self.assertEqual(default_state_dir(environ), "/h/ann/.local/state/twistedchat")

    def test_empty_or_relative(self) -> None:
        """As the XDG specification says, only an absolute path counts."""
        for value in ["", "state"]:
            environ = {"XDG_STATE_HOME": value, "HOME": "/h/ann"}
            self.assertEqual(
                default_state_dir(environ), "/h/ann/.local/state/twistedchat"
            )
