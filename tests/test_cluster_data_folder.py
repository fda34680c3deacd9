"""
The data folder in cluster mode: nodes on one machine share it, and a single
server keeps it to itself, both ways (C{flock} locks of two open files
exclude each other in one process as in two).
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from twistedchat.server.startup import DataFolder, StartupError


class SharedDataFolderTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp())

    def claimed(self, *, shared: bool) -> DataFolder:
        folder = DataFolder(self.path, shared=shared)
        folder.claim()
        self.addCleanup(folder.release)
        return folder

    def test_nodes_share_the_folder(self) -> None:
        self.claimed(shared=True)
        self.claimed(shared=True)
        self.assertTrue(os.path.isdir(os.path.join(self.path, "history")))
        with open(os.path.join(self.path, "server.lock"), "rb") as lock:
            self.assertEqual(lock.read(), b"")  # no pid names all the nodes

    def test_a_single_server_stops_while_nodes_use_the_folder(self) -> None:
        self.claimed(shared=True)
        error = self.assertRaises(StartupError, self.claimed, shared=False)
        self.assertEqual(
            str(error),
            f"the data folder {self.path} is in use by another server "
            f"(locked: {self.path}/server.lock)",
        )

    def test_a_node_stops_while_a_single_server_uses_the_folder(self) -> None:
        self.claimed(shared=False)
        error = self.assertRaises(StartupError, self.claimed, shared=True)
        self.assertEqual(
            str(error),
            f"the data folder {self.path} is in use by the server of pid "
            f"{os.getpid()} (locked: {self.path}/server.lock)",
        )

    def test_a_single_server_still_keeps_it_to_itself(self) -> None:
        self.claimed(shared=False)
        self.assertRaises(StartupError, self.claimed, shared=False)

    def test_the_folder_is_free_once_the_nodes_are_gone(self) -> None:
        first = self.claimed(shared=True)
        first.release()
        self.claimed(shared=False)
