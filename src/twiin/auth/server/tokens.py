"""Issuing short-lived access tokens and checking them on resource requests.

Tokens are JWTs (``typ: at+jwt``, RFC 9068 shape) signed with the issuer's key, or opaque random
strings resolved through :meth:`TokenIssuer.introspect`. Either way a token is bound to the
client's TLS certificate (``cnf.x5t#S256``, RFC 8705) and, for a Notified Pull, refers to its
authorization base by the non-secret id: :func:`verify_access_token` looks the base up again, so
a revoked base stops working at once, and the patient never travels inside the token.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import attrs
from cryptography import x509

from twiin.auth.jose import AssertionSigner, JwsVerificationError, new_jti, verify_jws
from twiin.auth.server.authbase import AuthorizationBase, AuthorizationBaseStore
from twiin.credentials import x5t_s256
from twiin.errors import AuthorizationBaseError, ConfigurationError, InvalidTokenError
from twiin.identifiers import Bsn, Ura

__all__ = ["AccessClaims", "TokenIssuer", "normalise_query", "verify_access_token"]

AT_JWT = "at+jwt"
_MAX_OPAQUE = 100_000


def normalise_query(query: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A query (``Type?a=1&b=2``, relative or absolute) as (path, sorted params) for comparison."""
    parts = urlsplit(query.strip())
    path = parts.path.strip("/")
    if parts.scheme:  # absolute: keep only the last path segment(s) after the FHIR base
        path = path.rsplit("/", 1)[-1]
    return path, tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))


@attrs.frozen(repr=False)
class AccessClaims:
    """What a verified access token allows."""

    issuer: str
    client_id: str
    client_ura: Ura
    scope: tuple[str, ...]
    issued_at: float
    expires_at: float
    jti: str
    certificate_thumbprint: str | None
    audience: str | None = None
    patient: Bsn | None = None
    receiver: Ura | None = None
    queries: tuple[str, ...] = ()
    authorization_base_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"AccessClaims(client_id={self.client_id!r}, client_ura={self.client_ura!r}, "
            f"scope={self.scope!r}, queries={len(self.queries)}, "
            f"authorization_base_id={self.authorization_base_id!r})"
        )

    def allows(self, query: str) -> bool:
        """True when ``query`` (path + search parameters) is one of the authorised queries."""
        wanted = normalise_query(query)
        return any(normalise_query(q) == wanted for q in self.queries)


@attrs.define(repr=False)
class _Opaque:
    claims: dict[str, Any]
    expires_at: float


class TokenIssuer:
    """Issues access tokens for our resource endpoints and checks them again.

    ``signer`` signs JWT tokens (use a key dedicated to token signing); ``issuer`` is our
    identifier (the token endpoint's base URL); ``audience`` names our resource server.
    ``token_format="opaque"`` keeps tokens server-side instead (introspection).
    """

    def __init__(
        self,
        signer: AssertionSigner,
        *,
        issuer: str,
        audience: str | None = None,
        lifetime: int = 300,
        token_format: Literal["jwt", "opaque"] = "jwt",  # noqa: S107
        clock_skew: int = 30,
    ) -> None:
        if not 0 < lifetime <= 3600:
            raise ConfigurationError("auth.token_lifetime", "must be between 1 and 3600 seconds")
        if token_format not in ("jwt", "opaque"):
            raise ConfigurationError("auth.token_format", "jwt or opaque")
        self.signer = signer
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
        self.token_format = token_format
        self.clock_skew = clock_skew
        self._opaque: dict[str, _Opaque] = {}
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenIssuer(issuer={self.issuer!r}, format={self.token_format!r})"

    @property
    def public_key(self) -> Any:
        """The public key that verifies JWT tokens."""
        return self.signer.credentials.certificate.public_key()

    def issue(
        self,
        *,
        client_id: str,
        client_ura: Ura,
        scope: Sequence[str] = (),
        certificate: x509.Certificate | None = None,
        authorization_base: AuthorizationBase | None = None,
        now: float | None = None,
    ) -> tuple[str, int]:
        """A new token and its lifetime in seconds; bound to ``certificate`` when given."""
        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": client_id,
            "client_id": client_id,
            "client_ura": client_ura.value,
            "iat": issued,
            "exp": issued + self.lifetime,
            "jti": new_jti(),
        }
        if self.audience:
            claims["aud"] = self.audience
        if scope:
            claims["scope"] = " ".join(scope)
        if certificate is not None:
            claims["cnf"] = {"x5t#S256": x5t_s256(certificate)}
        if authorization_base is not None:
            claims["authorization_base_id"] = authorization_base.id
            claims["queries"] = list(authorization_base.queries)
        if self.token_format == "jwt":  # noqa: S105
            return self.signer.sign(claims, typ=AT_JWT), self.lifetime
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._purge(issued)
            self._opaque[token] = _Opaque(claims, issued + self.lifetime)
        return token, self.lifetime

    def _purge(self, now: float) -> None:
        for key in [k for k, v in self._opaque.items() if v.expires_at < now]:
            del self._opaque[key]
        for key in [k for k, v in self._revoked.items() if v < now]:
            del self._revoked[key]

    def introspect(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """RFC 7662-style answer: the claims plus ``active``; ``{"active": False}`` when unknown."""
        when = time.time() if now is None else now
        try:
            claims = self.verified_claims(token, now=when)
        except InvalidTokenError:
            return {"active": False}
        return {"active": True, **claims}

    def revoke(self, token: str) -> None:
        """Revoke a token (opaque: forgotten; JWT: its ``jti`` is refused until expiry)."""
        with self._lock:
            if self._opaque.pop(token, None) is not None:
                return
        try:
            _, claims = verify_jws(token, self.public_key, [self.signer.alg])
        except JwsVerificationError:
            return
        jti, exp = claims.get("jti"), claims.get("exp")
        if isinstance(jti, str) and isinstance(exp, int | float):
            with self._lock:
                self._revoked[jti] = float(exp) + self.clock_skew

    def verified_claims(self, token: str, *, now: float) -> dict[str, Any]:
        """Claims of a token we issued, after signature, issuer, audience, time and revocation checks."""
        if not isinstance(token, str) or not token or len(token) > _MAX_OPAQUE:
            raise InvalidTokenError("access token is malformed")
        if token.count(".") == 2:
            try:
                header, claims = verify_jws(token, self.public_key, [self.signer.alg])
            except JwsVerificationError as exc:
                raise InvalidTokenError(f"access token refused: {exc}") from None
            if header.get("typ") != AT_JWT:
                raise InvalidTokenError("access token is not an at+jwt")
        else:
            with self._lock:
                entry = next((v for k, v in self._opaque.items() if hmac.compare_digest(k, token)), None)
            if entry is None:
                raise InvalidTokenError("access token is unknown")
            claims = dict(entry.claims)
        if claims.get("iss") != self.issuer:
            raise InvalidTokenError("access token has another issuer")
        if self.audience is not None and claims.get("aud") != self.audience:
            raise InvalidTokenError("access token is for another audience")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise InvalidTokenError("access token lacks exp/iat")
        if now > exp + self.clock_skew:
            raise InvalidTokenError("access token has expired")
        if iat > now + self.clock_skew:
            raise InvalidTokenError("access token is issued in the future")
        with self._lock:
            if claims.get("jti") in self._revoked:
                raise InvalidTokenError("access token was revoked")
        return claims


def _str(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidTokenError(f"access token lacks {name}")
    return value


def verify_access_token(
    token: str,
    *,
    peer_certificate: x509.Certificate | None,
    issuer: TokenIssuer,
    store: AuthorizationBaseStore | None = None,
    now: float | None = None,
    require_binding: bool = True,
) -> AccessClaims:
    """Check a token presented on a resource request; returns what it allows.

    The token must come from ``issuer``, be unexpired, and be bound to ``peer_certificate``
    (``cnf.x5t#S256``; an unbound token is refused unless ``require_binding=False``). A token
    issued for an authorization base needs ``store``: the base must still be valid and issued to
    the token's client organisation. Raises :class:`~twiin.errors.InvalidTokenError`.
    """
    from datetime import UTC, datetime

    when = time.time() if now is None else now
    claims = issuer.verified_claims(token, now=when)
    cnf = claims.get("cnf")
    thumbprint = cnf.get("x5t#S256") if isinstance(cnf, dict) else None
    if thumbprint is not None:
        if peer_certificate is None:
            raise InvalidTokenError("certificate-bound token presented without a TLS client certificate")
        if not hmac.compare_digest(str(thumbprint), x5t_s256(peer_certificate)):
            raise InvalidTokenError("access token is bound to another certificate")
    elif require_binding:
        raise InvalidTokenError("access token is not bound to a certificate")
    try:
        client_ura = Ura(_str(claims, "client_ura"))
    except ValueError:
        raise InvalidTokenError("access token has an invalid client_ura") from None
    scope = claims.get("scope")
    result = AccessClaims(
        issuer=_str(claims, "iss"),
        client_id=_str(claims, "client_id"),
        client_ura=client_ura,
        scope=tuple(scope.split()) if isinstance(scope, str) else (),
        issued_at=float(claims["iat"]),
        expires_at=float(claims["exp"]),
        jti=_str(claims, "jti"),
        certificate_thumbprint=str(thumbprint) if thumbprint is not None else None,
        audience=claims.get("aud") if isinstance(claims.get("aud"), str) else None,
    )
    base_id = claims.get("authorization_base_id")
    if base_id is None:
        return result
    if store is None:
        raise InvalidTokenError("token refers to an authorization base but no store was given")
    try:
        base = store.resolve_id(str(base_id), now=datetime.fromtimestamp(when, UTC))
    except AuthorizationBaseError as exc:
        raise InvalidTokenError(f"authorization base no longer valid: {exc.message}") from None
    if base.receiver != client_ura:
        raise InvalidTokenError("authorization base was issued to another organisation")
    return attrs.evolve(
        result,
        patient=base.patient,
        receiver=base.receiver,
        queries=base.queries,
        authorization_base_id=base.id,
    )
