"""Credentials: a UZI server certificate chain with its private key, and trust anchors.

Keys are held as ``cryptography`` objects and never printed; the repr shows the certificate
subject and its ``x5t#S256`` thumbprint only. An HSM or KMS key can be used for signing
through ``signer`` (TLS then needs a key the ``ssl`` module can load, or a TLS-terminating proxy).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from twiin.errors import ConfigurationError

__all__ = ["Credentials", "PrivateKey", "Signer", "TrustAnchors", "x5t_s256"]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
Signer = Callable[[bytes, str], bytes]
"""Signs ``data`` with JOSE algorithm ``alg`` and returns the JWS signature bytes (HSM/KMS hook)."""


def x5t_s256(certificate: x509.Certificate) -> str:
    """The JOSE ``x5t#S256`` thumbprint: base64url(SHA-256(DER)), unpadded."""
    digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _read(path: str | Path, setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(setting, f"cannot read file {str(path)!r}: {exc.strerror}") from None


def _load_certs(data: bytes, setting: str) -> tuple[x509.Certificate, ...]:
    try:
        if b"-----BEGIN" in data:
            certs = tuple(x509.load_pem_x509_certificates(data))
        else:
            certs = (x509.load_der_x509_certificate(data),)
    except ValueError:
        raise ConfigurationError(setting, "not a PEM or DER certificate") from None
    if not certs:
        raise ConfigurationError(setting, "contains no certificate")
    return certs


def _public_bytes(key: object) -> bytes:
    if hasattr(key, "private_bytes"):
        key = key.public_key()  # type: ignore[attr-defined]
    return key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@attrs.frozen(repr=False)
class Credentials:
    """A certificate chain (leaf first) and its private key or a signing callback."""

    chain: tuple[x509.Certificate, ...]
    private_key: PrivateKey | None = attrs.field(default=None, eq=False)
    signer: Signer | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if not self.chain:
            raise ConfigurationError("credentials.certificate", "no certificate given")
        if self.private_key is None and self.signer is None:
            raise ConfigurationError("credentials.key", "a private key or a signer is required")
        if self.private_key is not None and _public_bytes(self.private_key) != _public_bytes(
            self.chain[0].public_key()
        ):
            raise ConfigurationError("credentials.key", "the private key does not match the certificate")

    @property
    def certificate(self) -> x509.Certificate:
        """The leaf certificate."""
        return self.chain[0]

    @property
    def thumbprint(self) -> str:
        """``x5t#S256`` of the leaf certificate."""
        return x5t_s256(self.chain[0])

    def __repr__(self) -> str:
        subject = self.certificate.subject.rfc4514_string()
        return f"Credentials(subject={subject!r}, x5t#S256={self.thumbprint!r})"

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_pem(
        cls, certificate: bytes, key: bytes | None = None, password: bytes | None = None
    ) -> Credentials:
        """From PEM bytes: a certificate chain and (optionally encrypted) private key."""
        chain = _load_certs(certificate, "credentials.certificate")
        if key is None:
            raise ConfigurationError("credentials.key", "no private key given")
        try:
            private = serialization.load_pem_private_key(key, password=password)
        except TypeError:
            raise ConfigurationError(
                "credentials.password",
                "the key is encrypted and needs a password (or got one it does not need)",
            ) from None
        except ValueError:
            raise ConfigurationError(
                "credentials.key", "cannot load the private key (wrong password or not a PEM key)"
            ) from None
        if not isinstance(
            private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
        ):
            raise ConfigurationError("credentials.key", "unsupported key type")
        return cls(chain=chain, private_key=private)

    @classmethod
    def from_pem_files(
        cls, certificate: str | Path, key: str | Path, password: bytes | None = None
    ) -> Credentials:
        """From a PEM certificate (chain) file and a PEM key file."""
        return cls.from_pem(
            _read(certificate, "credentials.certificate"), _read(key, "credentials.key"), password
        )

    @classmethod
    def from_pkcs12(cls, data: bytes | str | Path, password: bytes | None) -> Credentials:
        """From a PKCS#12 (``.p12``/``.pfx``) file path or its bytes, as UZI server certificates come."""
        raw = data if isinstance(data, bytes) else _read(data, "credentials.pkcs12")
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(raw, password)
        except ValueError:
            raise ConfigurationError(
                "credentials.password", "cannot open the PKCS#12 file (wrong password or corrupt file)"
            ) from None
        if cert is None:
            raise ConfigurationError("credentials.pkcs12", "the PKCS#12 file holds no certificate")
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise ConfigurationError("credentials.pkcs12", "the PKCS#12 file holds no supported private key")
        return cls(chain=(cert, *extra), private_key=key)

    @classmethod
    def from_signer(cls, chain: Sequence[x509.Certificate], signer: Signer) -> Credentials:
        """Certificate chain plus a signing callback for keys held in an HSM or KMS."""
        return cls(chain=tuple(chain), signer=signer)

    # -- export ----------------------------------------------------------------------------------------
    def chain_pem(self) -> bytes:
        """The certificate chain as PEM."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def encrypted_key_pem(self, password: bytes) -> bytes:
        """The private key as PKCS#8 PEM encrypted with ``password`` (for ``ssl`` loading)."""
        if self.private_key is None:
            raise ConfigurationError("credentials.key", "no private key: TLS needs a loadable key")
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )

    def x5c(self) -> list[str]:
        """The chain as a JOSE ``x5c`` header value (base64 DER, leaf first)."""
        return [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii") for c in self.chain
        ]


@attrs.frozen(repr=False)
class TrustAnchors:
    """CA certificates we trust for peers (UZI-register / PKIoverheid roots and intermediates)."""

    certificates: tuple[x509.Certificate, ...]

    @classmethod
    def from_pem(cls, data: bytes) -> TrustAnchors:
        """From PEM bytes holding one or more CA certificates."""
        return cls(_load_certs(data, "trust.ca_bundle"))

    @classmethod
    def from_pem_file(cls, path: str | Path) -> TrustAnchors:
        """From a PEM CA bundle file."""
        return cls.from_pem(_read(path, "trust.ca_bundle"))

    def pem(self) -> str:
        """The bundle as PEM text (for ``SSLContext.load_verify_locations(cadata=...)``)."""
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in self.certificates)

    def fingerprints(self) -> list[str]:
        """SHA-256 fingerprints (hex) of the anchors."""
        return [c.fingerprint(hashes.SHA256()).hex() for c in self.certificates]

    def __repr__(self) -> str:
        names = ", ".join(c.subject.rfc4514_string() for c in self.certificates)
        return f"TrustAnchors([{names}])"
