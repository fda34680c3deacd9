"""
The identity key of servers that share a data folder (a cluster's nodes, on
one machine or shared storage) and start at once: one makes it, every one
uses it, none stops on "file exists" or on a file not written yet.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from twisted.trial.unittest import SynchronousTestCase

from twistedchat.core.identity import Identities
from twistedchat.server.keys import KEY_FILE, load_identities

from .processes import server_environment

LOAD = (
    "import sys; from twistedchat.server.keys import load_identities; "
    "load_identities(sys.argv[1]); "
    "print(open(sys.argv[1] + '/identity.key').read().strip())"
)


class SharedKeyTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())

    def test_a_key_being_written_is_waited_for(self) -> None:
        os.makedirs(self.folder)
        path = os.path.join(self.folder, KEY_FILE)
        open(path, "w").close()  # made by another server, not written yet
        secret = Identities.new_secret()

        def write() -> None:
            with open(path, "w") as file:
                file.write(secret.hex() + "\n")

        writer = threading.Timer(0.1, write)
        writer.start()
        self.addCleanup(writer.join, 5)
        identities = load_identities(self.folder)
        self.assertEqual(identities.resume(Identities(secret).token("u1")), "u1")

    def test_servers_starting_at_once_share_one_key(self) -> None:
        starting = [
            subprocess.Popen(
                [sys.executable, "-c", LOAD, self.folder],
                env=server_environment(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(8)
        ]
        results = [process.communicate(timeout=60) for process in starting]
        self.assertEqual([error for _, error in results], [""] * 8)
        self.assertEqual(len({key for key, _ in results}), 1)
