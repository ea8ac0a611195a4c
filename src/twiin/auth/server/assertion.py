"""Verifying client assertions (RFC 7523 §2.2) and authorization grants (§2.1) at our token endpoint.

Every check fails closed with :class:`~twiin.errors.ClientAssertionError`:

* ``alg`` must be on the allow-list (never ``none``, never HMAC);
* the signing key is the ``x5c`` leaf (chained to the trust anchors) or else the TLS client
  certificate; both are chain-validated at ``now`` (and revocation-checked unless turned off);
* ``iss``/``sub`` must be the client id, and the client id's URA must be the certificate's URA
  (and the TLS peer's URA when the assertion is signed with a different certificate);
* ``aud`` must contain our token endpoint; ``exp``/``nbf``/``iat`` within ``clock_skew``;
  ``exp - iat`` at most ``max_lifetime``;
* ``jti`` must be new: it is remembered in a :class:`ReplayCache` until the assertion expires.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import attrs
from cryptography import x509

from twiin import naming
from twiin.auth.chain import CrlSource, verify_chain
from twiin.auth.jose import ALGORITHMS, JwsVerificationError, unverified_header, verify_jws
from twiin.auth.uzi import UziServerIdentity, uzi_identity
from twiin.credentials import TrustAnchors, x5t_s256
from twiin.errors import (
    ChainValidationError,
    ClientAssertionError,
    ConfigurationError,
    InvalidIdentifier,
    UziIdentityError,
)
from twiin.identifiers import Ura

__all__ = [
    "AssertionPolicy",
    "MemoryReplayCache",
    "ReplayCache",
    "VerifiedAssertion",
    "ura_from_client_id",
    "verify_authorization_grant",
    "verify_client_assertion",
]

_URA_OID_PREFIX = f"urn:oid:{naming.URA_OID}."
_DIGITS = re.compile(r"^[0-9]{1,8}$")
_MAX_X5C = 5


@runtime_checkable
class ReplayCache(Protocol):
    """Remembers assertion ids until they expire; shared stores make multi-instance setups safe."""

    def use(self, key: str, expires_at: float) -> bool:
        """Record ``key`` until ``expires_at``; False when it was already recorded (a replay)."""
        ...


class MemoryReplayCache:
    """In-process :class:`ReplayCache` with expiry and a size bound (fails closed when full)."""

    def __init__(self, max_entries: int = 100_000, clock: Any = time.time) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._max = max_entries
        self._clock = clock

    def __repr__(self) -> str:
        return f"MemoryReplayCache({len(self._seen)} entries)"

    def use(self, key: str, expires_at: float) -> bool:
        """Atomically record ``key``; False for a replay or when the cache is full of live entries."""
        now = self._clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and seen >= now:
                return False
            if len(self._seen) >= self._max:
                self._seen = {k: v for k, v in self._seen.items() if v >= now}
                if len(self._seen) >= self._max:
                    return False
            self._seen[key] = expires_at
            return True


@attrs.frozen
class AssertionPolicy:
    """What our token endpoint accepts in a client assertion."""

    audience: str | tuple[str, ...]
    trust: TrustAnchors
    algorithms: tuple[str, ...] = ALGORITHMS
    clock_skew: int = 30
    max_lifetime: int = 300
    crl: CrlSource | None = None
    check_revocation: bool = True
    clients: Mapping[str, Ura] = attrs.field(factory=dict)
    """Client ids that are not a URA themselves, mapped to their organisation's URA."""
    intermediates: tuple[x509.Certificate, ...] = ()
    """Known intermediate CAs (a TLS peer often presents only its leaf certificate)."""

    def __attrs_post_init__(self) -> None:
        bad = [a for a in self.algorithms if a not in ALGORITHMS]
        if bad:
            raise ConfigurationError("auth.algorithms", f"not allowed: {', '.join(bad)}")
        if self.max_lifetime <= 0 or self.clock_skew < 0:
            raise ConfigurationError("auth.max_lifetime", "must be positive")
        if self.check_revocation and self.crl is None:
            raise ConfigurationError(
                "auth.crl", "revocation checking needs a CRL source (or check_revocation=False)"
            )

    @property
    def audiences(self) -> tuple[str, ...]:
        """Accepted ``aud`` values."""
        return (self.audience,) if isinstance(self.audience, str) else self.audience


@attrs.frozen(repr=False)
class VerifiedAssertion:
    """A client assertion that passed every check."""

    client_id: str
    subject: str
    ura: Ura
    identity: UziServerIdentity
    certificate: x509.Certificate
    claims: Mapping[str, Any] = attrs.field(eq=False)
    jti: str = ""

    def __repr__(self) -> str:
        return f"VerifiedAssertion(client_id={self.client_id!r}, ura={self.ura!r})"


def ura_from_client_id(client_id: str, clients: Mapping[str, Ura] | None = None) -> Ura | None:
    """The URA a client id names: a registered mapping, the URA, or ``urn:oid:<URA OID>.<URA>``."""
    if clients and client_id in clients:
        return clients[client_id]
    text = client_id.removeprefix(_URA_OID_PREFIX)
    if _DIGITS.match(text):
        try:
            return Ura(text)
        except InvalidIdentifier:  # pragma: no cover - the regex already ensures validity
            return None
    return None


def _fail(reason: str, error: str) -> ClientAssertionError:
    return ClientAssertionError(reason, error=error)


def _x5c_chain(header: Mapping[str, Any], error: str) -> list[x509.Certificate]:
    x5c = header.get("x5c")
    if x5c is None:
        return []
    if (
        not isinstance(x5c, list)
        or not x5c
        or len(x5c) > _MAX_X5C
        or not all(isinstance(c, str) for c in x5c)
    ):
        raise _fail("x5c header must be a list of 1-5 base64 certificates", error)
    try:
        return [x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in x5c]
    except ValueError:
        raise _fail("x5c header holds an unparseable certificate", error) from None


def _number(claims: Mapping[str, Any], name: str, error: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise _fail(f"assertion has no {name} claim", error)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"assertion claim {name} is not a number", error)
    return float(value)


def _check_times(claims: Mapping[str, Any], policy: AssertionPolicy, now: float, error: str) -> float:
    exp = _number(claims, "exp", error, required=True)
    iat = _number(claims, "iat", error, required=True)
    nbf = _number(claims, "nbf", error, required=False)
    assert exp is not None
    assert iat is not None
    skew = policy.clock_skew
    if now > exp + skew:
        raise _fail("assertion has expired", error)
    if nbf is not None and nbf > now + skew:
        raise _fail("assertion is not yet valid (nbf in the future)", error)
    if iat > now + skew:
        raise _fail("assertion is issued in the future (iat)", error)
    if exp - iat > policy.max_lifetime or exp - now > policy.max_lifetime + skew:
        raise _fail(f"assertion lifetime exceeds {policy.max_lifetime} s", error)
    return exp


def _signing_certificate(
    header: Mapping[str, Any], peer_certificate: x509.Certificate | None, error: str
) -> list[x509.Certificate]:
    chain = _x5c_chain(header, error)
    if not chain:
        if peer_certificate is None:
            raise _fail("no x5c header and no TLS client certificate to verify the signature", error)
        chain = [peer_certificate]
    thumb = header.get("x5t#S256")
    if thumb is not None and thumb != x5t_s256(chain[0]):
        raise _fail("x5t#S256 header does not match the signing certificate", error)
    return chain


def _validated_identity(
    chain: Sequence[x509.Certificate], policy: AssertionPolicy, when: datetime, error: str
) -> UziServerIdentity:
    try:
        verify_chain(
            chain,
            policy.trust,
            now=when,
            purpose="client",
            intermediates=policy.intermediates,
            crl=policy.crl,
            check_revocation=policy.check_revocation,
        )
        return uzi_identity(chain[0])
    except (ChainValidationError, UziIdentityError) as exc:
        raise _fail(f"signing certificate refused: {exc.message}", error) from None


def _verify(
    assertion: str,
    policy: AssertionPolicy,
    peer_certificate: x509.Certificate | None,
    now: float | None,
    replay_cache: ReplayCache,
    *,
    error: str,
    client_id: str | None,
    require_iss_is_sub: bool,
) -> VerifiedAssertion:
    when = time.time() if now is None else now
    when_dt = datetime.fromtimestamp(when, UTC)
    try:
        header = unverified_header(assertion)
    except JwsVerificationError as exc:
        raise _fail(str(exc), error) from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in policy.algorithms:
        raise _fail(f"algorithm {str(alg)[:16]!r} is not allowed", error)
    chain = _signing_certificate(header, peer_certificate, error)
    identity = _validated_identity(chain, policy, when_dt, error)
    try:
        _, claims = verify_jws(assertion, chain[0].public_key(), [alg])
    except JwsVerificationError as exc:
        raise _fail(str(exc), error) from None
    iss, sub, jti = claims.get("iss"), claims.get("sub"), claims.get("jti")
    if not isinstance(iss, str) or not isinstance(sub, str) or not iss or not sub:
        raise _fail("assertion needs string iss and sub claims", error)
    if require_iss_is_sub and iss != sub:
        raise _fail("assertion iss and sub differ", error)
    if client_id is not None and iss != client_id:
        raise _fail("assertion iss is not the authenticated client", error)
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(a in policy.audiences for a in auds if isinstance(a, str)):
        raise _fail("assertion aud is not this token endpoint", error)
    exp = _check_times(claims, policy, when, error)
    ura = ura_from_client_id(iss, policy.clients)
    if ura is None:
        raise _fail("client id does not name a known URA", error)
    if ura != identity.ura:
        raise _fail("URA of the client differs from the URA in the signing certificate", error)
    if peer_certificate is not None and peer_certificate != chain[0]:
        peer = _validated_identity([peer_certificate], policy, when_dt, error)
        if peer.ura != identity.ura:
            raise _fail("URA of the TLS client certificate differs from the signing certificate", error)
    if not isinstance(jti, str) or not 8 <= len(jti) <= 256:
        raise _fail("assertion needs a jti claim of 8-256 characters", error)
    if not replay_cache.use(f"{iss}\x00{jti}", exp + policy.clock_skew):
        raise _fail("assertion jti was already used (replay)", error)
    return VerifiedAssertion(
        client_id=iss, subject=sub, ura=ura, identity=identity, certificate=chain[0], claims=claims, jti=jti
    )


def verify_client_assertion(
    assertion: str,
    *,
    policy: AssertionPolicy,
    replay_cache: ReplayCache,
    peer_certificate: x509.Certificate | None = None,
    client_id: str | None = None,
    now: float | None = None,
) -> VerifiedAssertion:
    """Verify a ``private_key_jwt`` client assertion; raises ``ClientAssertionError(error="invalid_client")``.

    ``peer_certificate`` is the TLS client certificate; ``client_id`` the form's ``client_id``
    if one was sent (it must then equal ``iss``); ``now`` in epoch seconds (default: the clock).
    """
    return _verify(
        assertion,
        policy,
        peer_certificate,
        now,
        replay_cache,
        error="invalid_client",
        client_id=client_id,
        require_iss_is_sub=True,
    )


def verify_authorization_grant(
    assertion: str,
    *,
    policy: AssertionPolicy,
    replay_cache: ReplayCache,
    client_id: str,
    peer_certificate: x509.Certificate | None = None,
    now: float | None = None,
) -> VerifiedAssertion:
    """Verify an RFC 7523 §2.1 authorization grant assertion issued by ``client_id``.

    Same checks as :func:`verify_client_assertion` but ``sub`` may name someone else (e.g. the
    initiating organisation); failures carry ``error="invalid_grant"``.
    """
    return _verify(
        assertion,
        policy,
        peer_certificate,
        now,
        replay_cache,
        error="invalid_grant",
        client_id=client_id,
        require_iss_is_sub=False,
    )
