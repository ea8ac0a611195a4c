"""JWS signing and verification with joserfc, and RFC 7523 client assertions.

Assertions are short-lived and never reused: every call builds a fresh ``jti``, ``iat`` and
``exp``. Defaults follow the MinVWS generic-functions token service and the Twiin TTA text:
``kid`` is the ``x5t#S256`` thumbprint of the signing certificate, ``typ`` is ``JWT``, ``aud``
is the token endpoint URL (configurable, some servers want the issuer instead), lifetime 60 s
with a hard maximum of 300 s. Keys held in an HSM sign through ``Credentials.signer``.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey

from twiin.credentials import Credentials, PrivateKey
from twiin.errors import ConfigurationError

__all__ = [
    "ALGORITHMS",
    "ASSERTION_TYPE",
    "DEFAULT_ASSERTION_LIFETIME",
    "MAX_ASSERTION_LIFETIME",
    "MAX_HEADER_BYTES",
    "AssertionSigner",
    "JwsVerificationError",
    "build_client_assertion",
    "default_algorithm",
    "jose_key",
    "new_jti",
    "unverified_header",
    "verify_jws",
]

ALGORITHMS: tuple[str, ...] = ("RS256", "PS256", "ES256", "ES384", "ES512")
"""Signature algorithms twiin signs and accepts. Never ``none``, never HMAC."""
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_ASSERTION_LIFETIME = 60
MAX_ASSERTION_LIFETIME = 300
MAX_HEADER_BYTES = 16 * 1024
"""joserfc refuses JWS headers over 512 bytes by default; an ``x5c`` chain needs several KiB."""

_EC_ALG = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


class JwsVerificationError(ValueError):
    """A JWS could not be parsed or its signature did not verify (message is safe to log)."""


def new_jti() -> str:
    """A fresh random JWT ID (UUID4, 122 random bits)."""
    return str(uuid.uuid4())


def default_algorithm(key: object) -> str:
    """The default JWS ``alg`` for a key: RS256 for RSA, ES256/384/512 by curve for EC."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        try:
            return _EC_ALG[key.curve.name]
        except KeyError:
            raise ConfigurationError("auth.alg", f"unsupported EC curve {key.curve.name}") from None
    raise ConfigurationError("auth.alg", "only RSA and EC keys can sign assertions")


def _check_alg_fits(alg: str, key: object) -> None:
    if alg not in ALGORITHMS:
        raise ConfigurationError("auth.alg", f"{alg!r} is not one of {', '.join(ALGORITHMS)}")
    is_rsa = isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey)
    if alg.startswith(("RS", "PS")) != is_rsa:
        raise ConfigurationError("auth.alg", f"{alg} does not fit the key type")
    if not is_rsa and default_algorithm(key) != alg:
        raise ConfigurationError("auth.alg", f"{alg} does not fit the key's curve")


def jose_key(key: object) -> Key:
    """A joserfc key object for a ``cryptography`` RSA or EC key (private or public)."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return RSAKey(key, key)
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return ECKey(key, key)
    raise ConfigurationError("auth.key", "only RSA and EC keys are supported for JWS")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@attrs.frozen(repr=False)
class AssertionSigner:
    """Signs JWTs with a certificate's key (or HSM signer); ``kid`` defaults to ``x5t#S256``."""

    credentials: Credentials
    alg: str = ""
    kid: str | None = None
    include_x5c: bool = False
    _key: Key | None = attrs.field(init=False, default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        public = self.credentials.certificate.public_key()
        alg = self.alg or default_algorithm(public)
        _check_alg_fits(alg, public)
        object.__setattr__(self, "alg", alg)
        if self.kid is None:
            object.__setattr__(self, "kid", self.credentials.thumbprint)
        private: PrivateKey | None = self.credentials.private_key
        if private is not None:
            object.__setattr__(self, "_key", jose_key(private))

    def __repr__(self) -> str:
        return f"AssertionSigner(alg={self.alg!r}, kid={self.kid!r})"

    @property
    def thumbprint(self) -> str:
        """``x5t#S256`` of the signing certificate."""
        return self.credentials.thumbprint

    def header(self, typ: str | None = "JWT", extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The protected header this signer writes."""
        header: dict[str, Any] = {"alg": self.alg}
        if typ:
            header["typ"] = typ
        if self.kid:
            header["kid"] = self.kid
        if self.include_x5c:
            header["x5c"] = self.credentials.x5c()
        header.update(extra or {})
        header["alg"] = self.alg
        return header

    def sign(
        self, claims: Mapping[str, Any], *, typ: str | None = "JWT", header: Mapping[str, Any] | None = None
    ) -> str:
        """A compact JWS over ``claims`` (JSON) with this signer's header plus ``header``."""
        protected = self.header(typ, header)
        payload = _json(claims)
        if self._key is not None:
            try:
                return jws.serialize_compact(protected, payload, self._key, algorithms=[self.alg])
            except JoseError as exc:
                raise ConfigurationError("auth.key", f"signing failed: {type(exc).__name__}") from None
        signer = self.credentials.signer
        assert signer is not None  # Credentials guarantees a key or a signer
        signing_input = f"{_b64(_json(protected))}.{_b64(payload)}"
        signature = signer(signing_input.encode("ascii"), self.alg)
        return f"{signing_input}.{_b64(signature)}"


def build_client_assertion(
    signer: AssertionSigner,
    *,
    client_id: str,
    audience: str | Sequence[str],
    issuer: str | None = None,
    subject: str | None = None,
    lifetime: int = DEFAULT_ASSERTION_LIFETIME,
    now: float | None = None,
    not_before: bool = False,
    bind_certificate: bool = False,
    extra_claims: Mapping[str, Any] | None = None,
    typ: str | None = "JWT",
) -> str:
    """An RFC 7523 §2.2 client assertion (also usable as a §2.1 authorization grant).

    ``iss``/``sub`` default to ``client_id``; ``aud`` is normally the token endpoint URL;
    ``exp`` = ``iat`` + ``lifetime`` (1..300 s); ``jti`` is fresh every call. With
    ``bind_certificate`` the claim ``cnf: {"x5t#S256": ...}`` names the signing certificate.
    ``extra_claims`` (e.g. ``scope``, ``target_audience``) cannot override the standard claims.
    """
    if not 0 < lifetime <= MAX_ASSERTION_LIFETIME:
        raise ConfigurationError(
            "auth.assertion_lifetime", f"must be between 1 and {MAX_ASSERTION_LIFETIME} seconds"
        )
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = dict(extra_claims or {})
    claims.update(
        iss=issuer or client_id,
        sub=subject or client_id,
        aud=audience if isinstance(audience, str) else list(audience),
        iat=issued,
        exp=issued + lifetime,
        jti=new_jti(),
    )
    if not_before:
        claims["nbf"] = issued
    if bind_certificate:
        claims["cnf"] = {"x5t#S256": signer.thumbprint}
    return signer.sign(claims, typ=typ)


def _registry(algorithms: Sequence[str]) -> jws.JWSRegistry:
    registry = jws.JWSRegistry(algorithms=list(algorithms), strict_check_header=False)
    registry.max_header_length = MAX_HEADER_BYTES
    return registry


def unverified_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, parsed but NOT verified (for key selection only)."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 64 * 1024:
        raise JwsVerificationError("not a compact JWS")
    head = token.split(".", 1)[0]
    if len(head) > MAX_HEADER_BYTES * 4 // 3 + 4:
        raise JwsVerificationError("JWS header too large")
    try:
        value = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, TypeError):
        raise JwsVerificationError("JWS header is not base64url JSON") from None
    if not isinstance(value, dict):
        raise JwsVerificationError("JWS header is not a JSON object")
    return value


def verify_jws(
    token: str, public_key: object, algorithms: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a compact JWS with ``public_key``; returns ``(header, claims)``.

    Only ``algorithms`` (a subset of :data:`ALGORITHMS`) are accepted; headers up to
    :data:`MAX_HEADER_BYTES` (room for an ``x5c`` chain).
    """
    allowed = [a for a in algorithms if a in ALGORITHMS]
    header = unverified_header(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed:
        raise JwsVerificationError(f"algorithm {str(alg)[:20]!r} is not allowed")
    try:
        _check_alg_fits(alg, public_key)
    except ConfigurationError:
        raise JwsVerificationError(f"algorithm {alg} does not fit the signing key") from None
    try:
        obj = jws.deserialize_compact(
            token, jose_key(public_key), algorithms=[alg], registry=_registry([alg])
        )
    except JoseError as exc:
        raise JwsVerificationError(f"signature check failed ({type(exc).__name__})") from None
    except (ValueError, TypeError):
        raise JwsVerificationError("malformed JWS") from None
    try:
        claims = json.loads(obj.payload)
    except ValueError:
        raise JwsVerificationError("JWS payload is not JSON") from None
    if not isinstance(claims, dict):
        raise JwsVerificationError("JWS payload is not a JSON object")
    return dict(obj.headers()), claims
