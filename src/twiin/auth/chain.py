"""Certificate chain validation against trust anchors, with pluggable CRL revocation checking.

Validation always takes an explicit clock (``now``). Revocation checking is on by default: a
call without a :class:`CrlSource` fails unless ``check_revocation=False`` is passed on purpose.
Twiin requires CRL/OCSP freshness of at least hourly, so :class:`RefreshingCrlSource` refuses a
refresh interval above one hour.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol, runtime_checkable

import attrs
from cryptography import x509
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from twiin.credentials import TrustAnchors
from twiin.errors import ChainValidationError, ConfigurationError
from twiin.redaction import get_logger

__all__ = [
    "MAX_CRL_REFRESH",
    "CrlSource",
    "RefreshingCrlSource",
    "StaticCrlSource",
    "verify_chain",
]

log = get_logger(__name__)

MAX_CRL_REFRESH = timedelta(hours=1)
Purpose = Literal["client", "server"]


@runtime_checkable
class CrlSource(Protocol):
    """Gives the current CRL issued by ``issuer`` (or None when it has none)."""

    def crl_for(self, issuer: x509.Certificate, now: datetime) -> x509.CertificateRevocationList | None:
        """The CRL of ``issuer`` valid at ``now``."""
        ...


@attrs.frozen
class StaticCrlSource:
    """A fixed set of CRLs (e.g. loaded from files by a deployment's own refresh job)."""

    crls: tuple[x509.CertificateRevocationList, ...]

    def crl_for(self, issuer: x509.Certificate, now: datetime) -> x509.CertificateRevocationList | None:
        """The newest CRL whose issuer name is ``issuer``'s subject."""
        matches = [c for c in self.crls if c.issuer == issuer.subject]
        return max(matches, key=lambda c: c.last_update_utc) if matches else None


CrlFetcher = Callable[[x509.Certificate], bytes | None]
"""Fetches the DER or PEM CRL for an issuer certificate (e.g. from its CRL distribution point)."""


class RefreshingCrlSource:
    """Fetches CRLs through ``fetch`` and re-fetches each at least every ``refresh_interval``."""

    def __init__(self, fetch: CrlFetcher, *, refresh_interval: timedelta = MAX_CRL_REFRESH) -> None:
        if refresh_interval > MAX_CRL_REFRESH or refresh_interval <= timedelta(0):
            raise ConfigurationError(
                "auth.crl_refresh_interval", "must be positive and at most one hour (Twiin TW-LA-TA-001)"
            )
        self._fetch = fetch
        self._interval = refresh_interval
        self._cache: dict[bytes, tuple[datetime, x509.CertificateRevocationList | None]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RefreshingCrlSource(refresh_interval={self._interval})"

    def crl_for(self, issuer: x509.Certificate, now: datetime) -> x509.CertificateRevocationList | None:
        """The cached CRL of ``issuer``, fetched again when older than the refresh interval."""
        key = issuer.subject.public_bytes()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and now - cached[0] < self._interval:
                return cached[1]
            raw = self._fetch(issuer)
            crl = None
            if raw is not None:
                try:
                    crl = (
                        x509.load_pem_x509_crl(raw)
                        if raw.lstrip().startswith(b"-----")
                        else x509.load_der_x509_crl(raw)
                    )
                except ValueError:
                    log.warning("CRL fetched for %s is not parseable", issuer.subject.rfc4514_string())
                    crl = None
            self._cache[key] = (now, crl)
            return crl


def _check_revocation(
    chain: Sequence[x509.Certificate], source: CrlSource, now: datetime, trust: TrustAnchors
) -> None:
    for cert, issuer in itertools.pairwise(chain):
        if cert in trust.certificates:
            return
        crl = source.crl_for(issuer, now)
        if crl is None:
            raise ChainValidationError(
                f"revocation status unknown: no CRL for issuer {issuer.subject.rfc4514_string()}"
            )
        if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
            raise ChainValidationError("CRL signature does not verify against its issuer")
        next_update = crl.next_update_utc
        if next_update is not None and next_update < now:
            raise ChainValidationError("CRL is stale (nextUpdate has passed)")
        if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            raise ChainValidationError(f"certificate {cert.subject.rfc4514_string()} is revoked")


def _eku_validator(required: x509.ObjectIdentifier) -> Callable[..., None]:
    def check(policy: object, cert: x509.Certificate, ext: x509.ExtendedKeyUsage | None) -> None:
        if ext is not None and required not in ext:
            raise ValueError(f"extended key usage lacks {required.dotted_string}")

    return check


def verify_chain(
    chain: Sequence[x509.Certificate] | x509.Certificate,
    trust: TrustAnchors,
    *,
    now: datetime,
    purpose: Purpose = "client",
    hostname: str | None = None,
    intermediates: Sequence[x509.Certificate] = (),
    crl: CrlSource | None = None,
    check_revocation: bool = True,
) -> list[x509.Certificate]:
    """Validate ``chain`` (leaf first) up to ``trust`` at ``now``; returns the built chain.

    Checks signatures, validity periods, CA constraints and key usage, and the extended key
    usage for ``purpose`` (``clientAuth`` for a peer calling us, ``serverAuth`` when we call a
    server; ``hostname`` is then checked too). With ``check_revocation`` (the default) every
    non-anchor certificate must have a current, correctly signed CRL from ``crl`` that does not
    list it. Raises :class:`~twiin.errors.ChainValidationError`.
    """
    if now.tzinfo is None:
        raise ConfigurationError("now", "must be timezone-aware")
    if check_revocation and crl is None:
        raise ConfigurationError(
            "auth.crl", "revocation checking needs a CRL source (pass check_revocation=False to turn it off)"
        )
    certs = [chain] if isinstance(chain, x509.Certificate) else list(chain)
    if not certs:
        raise ChainValidationError("empty certificate chain")
    leaf, extra = certs[0], [*certs[1:], *intermediates]
    store = verification.Store(list(trust.certificates))
    builder = verification.PolicyBuilder().store(store).time(now.astimezone(UTC)).max_chain_depth(6)
    eku = ExtendedKeyUsageOID.CLIENT_AUTH if purpose == "client" else ExtendedKeyUsageOID.SERVER_AUTH
    ee_policy = verification.ExtensionPolicy.webpki_defaults_ee().require_present(
        x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, _eku_validator(eku)
    )
    builder = builder.extension_policies(
        ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy
    )
    try:
        built: list[x509.Certificate]
        if purpose == "server":
            if not hostname:
                raise ConfigurationError("hostname", "server purpose needs the expected host name")
            built = builder.build_server_verifier(_subject(hostname)).verify(leaf, extra)
        else:
            built = builder.build_client_verifier().verify(leaf, extra).chain
    except verification.VerificationError as exc:
        raise ChainValidationError(f"certificate chain is not valid: {_short(exc)}") from None
    if check_revocation:
        assert crl is not None
        _check_revocation(built, crl, now, trust)
    return built


def _subject(hostname: str) -> verification.Subject:
    import ipaddress

    try:
        return x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        return x509.DNSName(hostname)


def _short(exc: Exception) -> str:
    text = str(exc).replace("\n", " ")
    return text[:300]
