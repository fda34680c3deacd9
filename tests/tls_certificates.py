"""
A throwaway public-key infrastructure for the TLS tests, made with C{cryptography}.

L{make_pki} writes into a folder a certificate authority, a server certificate
it signs for the names the tests connect to, and a second, unrelated
self-signed authority that trusts nothing the server shows. Keys are EC P-256:
valid for OpenSSL's default security level and made in milliseconds.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=2)
# Clocks of the test machine and of OpenSSL agree, but a certificate made this
# very second must already be valid: start it a little in the past.
BACKDATE = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files L{make_pki} wrote."""

    ca_cert: str
    server_cert: str
    server_key: str
    other_ca: str


@dataclass(frozen=True)
class _Authority:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "twistedchat tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
            critical=False,
        )
    )


def _authority(common_name: str) -> _Authority:
    key = _key()
    name = _name(common_name)
    certificate = (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return _Authority(name, key, certificate)


def _server_certificate(
    authority: _Authority,
    key: ec.EllipticCurvePrivateKey,
    dns_names: Sequence[str],
    ips: Sequence[str],
) -> x509.Certificate:
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    return (
        _builder(_name(dns_names[0] if dns_names else ips[0]), authority.name, key)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                authority.key.public_key()
            ),
            critical=False,
        )
        .sign(authority.key, hashes.SHA256())
    )


def _write(path: str, data: bytes) -> str:
    with open(path, "wb") as file:
        file.write(data)
    return path


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def make_pki(
    folder: str,
    dns_names: Sequence[str] = ("localhost",),
    ips: Sequence[str] = (),
) -> Pki:
    """
    Write C{ca.pem}, C{server.pem}, C{server.key} and C{other-ca.pem} into
    C{folder} (which must exist): the server certificate names C{dns_names}
    and C{ips} and is signed by C{ca.pem}; C{other-ca.pem} signed nothing.
    """
    if not dns_names and not ips:
        raise ValueError("a server certificate needs at least one name")
    authority = _authority("twistedchat test CA")
    other = _authority("twistedchat unrelated test CA")
    key = _key()
    server = _server_certificate(authority, key, dns_names, ips)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return Pki(
        ca_cert=_write(os.path.join(folder, "ca.pem"), _pem(authority.certificate)),
        server_cert=_write(os.path.join(folder, "server.pem"), _pem(server)),
        server_key=_write(os.path.join(folder, "server.key"), key_pem),
        other_ca=_write(os.path.join(folder, "other-ca.pem"), _pem(other.certificate)),
    )


def make_common_name_only(folder: str, common_name: str = "localhost") -> Pki:
    """
    Write C{cn-only.pem} and C{cn-only.key} into C{folder}: a self-signed
    certificate naming C{common_name} in its subject only, without any
    subjectAltName, as C{openssl req -x509 -subj /CN=localhost} makes it
    (with its default extensions: a CA, key identifiers). Trusted as its own
    authority, it passes the chain check; only the name check can refuse it.
    """
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        _builder(name, name, key)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    assert not [
        e
        for e in certificate.extensions
        if isinstance(e.value, x509.SubjectAlternativeName)
    ]
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert = _write(os.path.join(folder, "cn-only.pem"), _pem(certificate))
    return Pki(
        ca_cert=cert,
        server_cert=cert,
        server_key=_write(os.path.join(folder, "cn-only.key"), key_pem),
        other_ca=cert,
    )
