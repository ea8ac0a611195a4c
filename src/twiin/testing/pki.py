"""A throwaway test PKI shaped like the UZI-register's, for tests and the sandbox.

``TestPKI()`` makes a root CA and an intermediate ("server CA"); ``issue_server(...)`` makes a
UZI-style server certificate whose subjectAltName carries the otherName ``2.5.5.5`` string
``<CA OID>-<version>-<UZI nr>-<pass type>-<URA>-<role>-<AGB>`` plus DNS/IP names for loopback.
``TestPKI.rogue()`` gives an unrelated hierarchy for negative tests. Never use these in production.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from twiin import naming
from twiin.credentials import Credentials, PrivateKey, TrustAnchors

__all__ = [
    "CertificateAuthority",
    "IssuedCertificate",
    "KeyType",
    "StringEncoding",
    "TestPKI",
    "encode_der_string",
]

KeyType = Literal["rsa2048", "rsa3072", "ec256", "ec384", "ec521"]
StringEncoding = Literal["utf8", "ia5", "printable"]
_STRING_TAGS = {"utf8": 0x0C, "ia5": 0x16, "printable": 0x13}


def encode_der_string(text: str, encoding: StringEncoding = "utf8") -> bytes:
    """DER-encode ``text`` as a UTF8String, IA5String or PrintableString."""
    body = text.encode("utf-8" if encoding == "utf8" else "ascii")
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([_STRING_TAGS[encoding]]) + length + body


def _new_key(kind: KeyType) -> PrivateKey:
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    curve = {"ec256": ec.SECP256R1(), "ec384": ec.SECP384R1(), "ec521": ec.SECP521R1()}[kind]
    return ec.generate_private_key(curve)


def _name(cn: str, org: str | None = None, serial: str | None = None) -> x509.Name:
    attrs_: list[x509.NameAttribute[str]] = [x509.NameAttribute(NameOID.COUNTRY_NAME, "NL")]
    if org:
        attrs_.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs_.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    if serial:
        attrs_.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attrs_)


@attrs.frozen(repr=False)
class IssuedCertificate:
    """A certificate, its key and its chain up to (not including) the root."""

    certificate: x509.Certificate
    private_key: PrivateKey
    chain: tuple[x509.Certificate, ...]

    def __repr__(self) -> str:
        return f"IssuedCertificate({self.certificate.subject.rfc4514_string()!r})"

    def credentials(self) -> Credentials:
        """As :class:`~twiin.credentials.Credentials` (leaf + intermediates, key)."""
        return Credentials(chain=self.chain, private_key=self.private_key)

    def cert_pem(self) -> bytes:
        """The chain (leaf first) as PEM."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def key_pem(self, password: bytes | None = None) -> bytes:
        """The private key as PKCS#8 PEM, encrypted when ``password`` is given."""
        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
        )

    def write_pem(self, directory: str | Path, name: str, password: bytes | None = None) -> tuple[Path, Path]:
        """Write ``<name>.pem`` (chain) and ``<name>.key`` (mode 0600); returns both paths."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
        cert_path.write_bytes(self.cert_pem())
        key_path.touch(mode=0o600)
        key_path.chmod(0o600)  # also when the file already existed with a wider mode
        key_path.write_bytes(self.key_pem(password))
        return cert_path, key_path

    def to_pkcs12(self, password: bytes | None, friendly_name: bytes = b"twiin-test") -> bytes:
        """A PKCS#12 bundle, as UZI server certificates are delivered."""
        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return pkcs12.serialize_key_and_certificates(
            friendly_name, self.private_key, self.certificate, list(self.chain[1:]) or None, enc
        )


@attrs.define(repr=False)
class CertificateAuthority:
    """A CA certificate with its key; issues subordinate CAs, leaf certificates and CRLs."""

    certificate: x509.Certificate
    private_key: PrivateKey
    parents: tuple[x509.Certificate, ...] = ()

    def __repr__(self) -> str:
        return f"CertificateAuthority({self.certificate.subject.rfc4514_string()!r})"

    @classmethod
    def root(
        cls, name: str, key_type: KeyType = "rsa2048", *, now: datetime | None = None
    ) -> CertificateAuthority:
        """A self-signed root CA."""
        key = _new_key(key_type)
        start = (now or datetime.now(UTC)) - timedelta(days=1)
        subject = _name(name, "twiin test PKI")
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    def _builder(
        self, subject: x509.Name, public_key: object, start: datetime, end: datetime
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.certificate.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
        )

    def subordinate(self, name: str, key_type: KeyType = "rsa2048") -> CertificateAuthority:
        """An intermediate CA signed by this one."""
        key = _new_key(key_type)
        start = datetime.now(UTC) - timedelta(days=1)
        cert = (
            self._builder(
                _name(name, "twiin test PKI"), key.public_key(), start, start + timedelta(days=3000)
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(self.private_key, hashes.SHA256())
        )
        return CertificateAuthority(cert, key, (self.certificate, *self.parents))

    def issue(
        self,
        *,
        common_name: str,
        organization: str | None = None,
        serial_number: str | None = None,
        othername: str | None = None,
        othername_encoding: StringEncoding = "utf8",
        dns_names: tuple[str, ...] = ("localhost",),
        ip_addresses: tuple[str, ...] = ("127.0.0.1",),
        key_type: KeyType = "rsa2048",
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        extended_key_usage: tuple[x509.ObjectIdentifier, ...] = (
            ExtendedKeyUsageOID.SERVER_AUTH,
            ExtendedKeyUsageOID.CLIENT_AUTH,
        ),
    ) -> IssuedCertificate:
        """A leaf certificate; ``othername`` becomes a SAN otherName ``2.5.5.5`` string."""
        key = _new_key(key_type)
        start = not_before or datetime.now(UTC) - timedelta(hours=1)
        end = not_after or start + timedelta(days=365)
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if othername is not None:
            sans.append(
                x509.OtherName(
                    x509.ObjectIdentifier(naming.UZI_OTHERNAME_OID),
                    encode_der_string(othername, othername_encoding),
                )
            )
        builder = (
            self._builder(_name(common_name, organization, serial_number), key.public_key(), start, end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        if extended_key_usage:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(extended_key_usage)), critical=False)
        cert = builder.sign(self.private_key, hashes.SHA256())
        chain = (cert, self.certificate, *self.parents[:-1]) if self.parents else (cert,)
        return IssuedCertificate(cert, key, chain)

    def crl(
        self, revoked: tuple[x509.Certificate, ...] = (), *, next_update: timedelta = timedelta(hours=1)
    ) -> x509.CertificateRevocationList:
        """A CRL signed by this CA revoking ``revoked``."""
        now = datetime.now(UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now - timedelta(minutes=1))
            .next_update(now + next_update)
        )
        for cert in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(now - timedelta(minutes=1))
                .build()
            )
        return builder.sign(self.private_key, hashes.SHA256())


def uzi_othername(
    *,
    ura: str,
    uzi_number: str,
    agb: str = "00000000",
    role: str = "00.000",
    card_type: str = "S",
    version: str = "1",
) -> str:
    """The UZI SAN otherName string ``<CA OID>-<version>-<UZI nr>-<pass type>-<URA>-<role>-<AGB>``."""
    return f"{naming.UZI_CA_OID}-{version}-{uzi_number}-{card_type}-{ura}-{role}-{agb}"


class TestPKI:
    """A root and a server-issuing intermediate, like UZI-register's test hierarchy."""

    __test__ = False  # not a pytest test class

    def __init__(self, name: str = "TEST UZI-register", key_type: KeyType = "rsa2048") -> None:
        self.root = CertificateAuthority.root(f"{name} Root CA", key_type)
        self.intermediate = self.root.subordinate(f"{name} Server CA", key_type)

    def __repr__(self) -> str:
        return f"TestPKI({self.root.certificate.subject.rfc4514_string()!r})"

    @classmethod
    def rogue(cls) -> TestPKI:
        """An unrelated hierarchy with the same shape, for negative tests."""
        return cls("ROGUE Not-UZI")

    @property
    def trust_anchors(self) -> TrustAnchors:
        """The root CA as trust anchor."""
        return TrustAnchors((self.root.certificate,))

    def ca_pem(self) -> bytes:
        """The root CA as PEM."""
        return self.root.certificate.public_bytes(serialization.Encoding.PEM)

    def issue_server(
        self,
        *,
        ura: str,
        uzi_number: str = "900000001",
        agb: str = "00000000",
        role: str = "00.000",
        organization: str = "Test zorgaanbieder",
        hostname: str = "localhost",
        key_type: KeyType = "rsa2048",
        othername_encoding: StringEncoding = "utf8",
        othername: str | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> IssuedCertificate:
        """A UZI-style server certificate for ``ura`` (usable for TLS server and client auth)."""
        return self.intermediate.issue(
            common_name=hostname,
            organization=organization,
            serial_number=uzi_number,
            othername=othername
            if othername is not None
            else uzi_othername(ura=ura, uzi_number=uzi_number, agb=agb, role=role),
            othername_encoding=othername_encoding,
            dns_names=(hostname,) if hostname == "localhost" else (hostname, "localhost"),
            key_type=key_type,
            not_before=not_before,
            not_after=not_after,
        )
