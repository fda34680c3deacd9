"""The CLUSTER setting: Redis URLs read into addresses, bad ones refused clearly."""

from __future__ import annotations

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twistedchat.cluster.address import RedisAddress, parse_address
from twistedchat.cluster.log import LOG_QUEUE

from .test_server_config import ParsesSettings
from .tls_certificates import make_pki


class ParseAddressTests(SynchronousTestCase):
    def test_plain(self) -> None:
        self.assertEqual(
            parse_address("redis://localhost"), RedisAddress(host="localhost")
        )
        self.assertEqual(
            parse_address("redis://10.0.0.5:6380/3"),
            RedisAddress(host="10.0.0.5", port=6380, db=3),
        )
        self.assertEqual(parse_address("redis://[::1]:7000/").host, "::1")
        self.assertEqual(
            parse_address("redis://Redis.Example.org").host, "redis.example.org"
        )

    def test_credentials_are_url_decoded(self) -> None:
        address = parse_address("redis://chat:p%40ss%3Aw0rd@redis.example.org:6390/2")
        self.assertEqual(address.username, "chat")
        self.assertEqual(address.password, "p@ss:w0rd")
        self.assertEqual((address.port, address.db), (6390, 2))
        password_only = parse_address("redis://:secret@localhost")
        self.assertIsNone(password_only.username)
        self.assertEqual(password_only.password, "secret")

    def test_tls_and_private_authority(self) -> None:
        address = parse_address("rediss://redis.example.org:6380?ca=/etc/chat/ca.pem")
        self.assertTrue(address.tls)
        self.assertEqual(address.ca, "/etc/chat/ca.pem")
        self.assertFalse(parse_address("redis://localhost").tls)

    def test_text_hides_the_password(self) -> None:
        address = parse_address("rediss://chat:hunter2@localhost:6380/1?ca=/ca.pem")
        self.assertEqual(str(address), "rediss://chat:***@localhost:6380/1?ca=/ca.pem")
        self.assertNotIn("hunter2", repr(address))
        self.assertEqual(str(parse_address("redis://[::1]")), "redis://[::1]:6379/0")

    def test_bad_urls(self) -> None:
        for url, words in [
            ("localhost:6379", "starts with redis://"),
            ("http://localhost", "starts with redis://"),
            ("redis://", "no host"),
            ("redis://:pw@", "no host"),
            ("redis://localhost:99999", "port"),
            ("redis://localhost:0", "port"),
            ("redis://localhost:abc", "port"),
            ("redis://localhost/one", "database number"),
            ("redis://localhost/1/2", "database number"),
            ("redis://localhost/-1", "database number"),
            ("redis://localhost?ca=/ca.pem", "rediss://"),
            ("rediss://localhost?ca=", "PEM file"),
            ("rediss://localhost?timeout=3", "unknown option 'timeout'"),
            ("redis://user@localhost", "needs a password"),
            ("redis://user:@localhost", "empty password"),
            ("redis://local host", "host name"),
            ("redis://localhost#x", "fragment"),
        ]:
            with self.subTest(url=url):
                e = self.assertRaises(ValueError, parse_address, url)
                self.assertIn(words, str(e))
                self.assertIn(repr(url.strip()), str(e))


class ClusterSettingTests(ParsesSettings):
    def test_single_node_by_default(self) -> None:
        self.assertIsNone(self.parse().cluster)
        self.assertIsNone(self.parse("--cluster", "").cluster)

    def test_option_and_config_key(self) -> None:
        self.assertEqual(
            self.parse("--cluster", "redis://127.0.0.1:6390/1").cluster,
            RedisAddress(host="127.0.0.1", port=6390, db=1),
        )
        folder = FilePath(self.mktemp())
        folder.makedirs()
        config = folder.child("chat.conf")
        config.setContent(b"CLUSTER=redis://:pw@redis.lan\n")
        settings = self.parse("--config", config.path)
        self.assertEqual(
            settings.cluster, RedisAddress(host="redis.lan", password="pw")
        )
        # The option wins over the file.
        self.assertIsNone(self.parse("--config", config.path, "--cluster", "").cluster)

    def test_bad_url_names_where_it_came_from(self) -> None:
        self.assertIn("--cluster: ", self.refused("--cluster", "redis://localhost:x"))
        folder = FilePath(self.mktemp())
        folder.makedirs()
        config = folder.child("chat.conf")
        config.setContent(b"# nodes\nCLUSTER=tcp:6379\n")
        line = self.refused("--config", config.path)
        self.assertIn(f"{config.path}, line 2", line)
        self.assertIn("redis://", line)

    def test_authority_file_must_exist(self) -> None:
        folder = FilePath(self.mktemp())
        folder.makedirs()
        ca = folder.child("ca.pem")
        line = self.refused("--cluster", f"rediss://localhost?ca={ca.path}")
        self.assertIn("--cluster: no such file", line)
        ca.setContent(b"not a certificate")
        line = self.refused("--cluster", f"rediss://localhost?ca={ca.path}")
        self.assertIn("--cluster: not a PEM certificate (?ca=)", line)
        pki = make_pki(folder.path)
        settings = self.parse("--cluster", f"rediss://localhost?ca={pki.ca_cert}")
        assert settings.cluster is not None
        self.assertEqual(settings.cluster.ca, pki.ca_cert)

    def test_log_queue(self) -> None:
        self.assertEqual(self.parse().log_queue, LOG_QUEUE)
        self.assertEqual(self.parse("--log-queue", "50").log_queue, 50)
        self.assertIn("--log-queue: not a positive", self.refused("--log-queue", "0"))
