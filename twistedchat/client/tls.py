"""
How the client checks a TLS server: a trusted chain, and a certificate whose
subjectAltName names the host we dial.

L{server_tls_options} is Twisted's C{optionsForClientTLS} with one change:
its host check only refuses a certificate that names I{other} hosts; one that
names none at all (no subjectAltName, only a common name, as C{openssl req
-x509 -subj /CN=…} makes) raises a C{CertificateError} that Twisted's verify
callback logs and lets through. Ours refuses both, so the handshake fails
before a byte of ours (the Hello, its resume token) reaches that server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from OpenSSL import SSL
from OpenSSL.crypto import X509
from service_identity import CertificateError, VerificationError
from service_identity.hazmat import (
    DNS_ID,
    IPAddress_ID,
    ServiceID,
    verify_service_identity,
)
from service_identity.pyopenssl import extract_patterns
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.internet.ssl import optionsForClientTLS
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

if TYPE_CHECKING:
    from twisted.internet._sslverify import IOpenSSLTrustRoot

log = Logger()
# OpenSSL's verify callback: (connection, certificate, error, depth, ok).
Verifier = Callable[[SSL.Connection, X509, int, int, int], bool]


class CertificateForNoHost(Exception):
    """The certificate names no host at all, so not C{host} either."""

    def __init__(self, host: str, why: str) -> None:
        super().__init__(f"the certificate names no host, not {host}: {why}")
        self.host = host


@implementer(IOpenSSLClientConnectionCreator)
class HostCheckingOptions:
    """Connections that trust C{trust}'s authorities and only C{host}'s certificate."""

    def __init__(self, host: str, trust: IOpenSSLTrustRoot) -> None:
        self.host = host
        self._options = optionsForClientTLS(host, trustRoot=trust)
        self._identity: ServiceID = (
            IPAddress_ID(host)
            if isIPAddress(host) or isIPv6Address(host)
            else DNS_ID(host)
        )

    def clientConnectionForTLS(
        self, tlsProtocol: TLSMemoryBIOProtocol
    ) -> SSL.Connection:
        connection = self._options.clientConnectionForTLS(tlsProtocol)
        # Ours replaces Twisted's verify callback, which it set just now.
        connection.set_verify(
            SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT,
            self._verifier(tlsProtocol),
        )
        return connection

    def _verifier(self, tls: TLSMemoryBIOProtocol) -> Verifier:
        protocol: TLSMemoryBIOProtocol | None = tls

        def verify(
            connection: SSL.Connection,
            certificate: X509,
            error: int,
            depth: int,
            ok: int,
        ) -> bool:
            nonlocal protocol
            if depth != 0 or not ok or protocol is None:
                # The chain is OpenSSL's to judge (an untrusted one fails with
                # "certificate verify failed"); the name is the leaf's.
                return bool(ok)
            refusal: Failure | None = None
            try:
                verify_service_identity(
                    extract_patterns(certificate), [self._identity], []
                )
            except VerificationError:
                refusal = Failure()
            except CertificateError as e:
                log.info(
                    "refusing the certificate of {host}: {why}", host=self.host, why=e
                )
                refusal = Failure(CertificateForNoHost(self.host, str(e)))
            except Exception:
                # Raised out of an OpenSSL callback, it would be lost.
                log.failure("while checking the certificate of {host}", host=self.host)
                refusal = Failure()
            tls, protocol = protocol, None  # no cycle left behind
            if refusal is None:
                return True
            tls.failVerification(refusal)
            return False

        return verify


def server_tls_options(
    host: str, trust: IOpenSSLTrustRoot
) -> IOpenSSLClientConnectionCreator:
    """TLS to C{host}: a chain C{trust} vouches for, a certificate naming C{host}."""
    return HostCheckingOptions(host, trust)
