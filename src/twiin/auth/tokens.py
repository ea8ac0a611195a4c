"""Sans-I/O token handling: the token value, the cache, and parsing token endpoint answers.

Token endpoints answer in many shapes. RFC 6749 §5.2 error JSON, a 403 with an empty body, an
HTML error page, unknown error codes: each becomes :class:`~twiin.errors.TokenRequestError`
with the status, the error code (if any) and a short description; nothing here crashes on
``.json()``. A token without ``expires_in`` is treated as valid for ``default_lifetime`` seconds
rather than forever.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Any

import attrs

from twiin.errors import TokenRequestError

__all__ = [
    "DEFAULT_LEEWAY",
    "DEFAULT_TOKEN_LIFETIME",
    "MAX_TOKEN_RESPONSE_BYTES",
    "CacheKey",
    "Token",
    "TokenCache",
    "cache_key",
    "parse_token_response",
]

DEFAULT_LEEWAY = 30.0
DEFAULT_TOKEN_LIFETIME = 300.0
MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024
_MAX_DESCRIPTION = 300


@attrs.frozen(repr=False)
class Token:
    """An access token with its type, scope and absolute expiry (epoch seconds)."""

    access_token: str
    token_type: str
    issued_at: float
    expires_at: float
    scope: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, eq=False)

    def __repr__(self) -> str:
        return f"Token(type={self.token_type!r}, scope={self.scope!r}, expires_at={self.expires_at:.0f})"

    def refresh_at(self, leeway: float) -> float:
        """When to fetch a new one: ``leeway`` before expiry, but never before half the lifetime."""
        lifetime = max(0.0, self.expires_at - self.issued_at)
        return self.expires_at - min(leeway, lifetime / 2)

    def is_fresh(self, now: float, leeway: float) -> bool:
        """True while ``now`` is before :meth:`refresh_at`."""
        return now < self.refresh_at(leeway)

    @property
    def scheme(self) -> str:
        """The ``Authorization`` scheme: ``DPoP`` for DPoP-bound tokens, else ``Bearer``."""
        return "DPoP" if self.token_type.lower() == "dpop" else "Bearer"


@attrs.frozen
class CacheKey:
    """What a cached token is valid for. The authorization base and the grant are kept only as hashes."""

    token_endpoint: str
    client_id: str | None
    grant_type: str
    scope: str | None = None
    audience: str | None = None
    authorization_base: str | None = None
    grant: str | None = None


def cache_key(
    token_endpoint: str,
    client_id: str | None,
    grant_type: str,
    *,
    scope: str | None = None,
    audience: str | None = None,
    authorization_base: str | None = None,
    grant: str | None = None,
) -> CacheKey:
    """A :class:`CacheKey`; ``authorization_base`` and ``grant`` (e.g. the subject token of a
    token exchange) are stored as their SHA-256 hex digests."""
    return CacheKey(
        token_endpoint, client_id, grant_type, scope, audience, _digest(authorization_base), _digest(grant)
    )


def _digest(secret: str | None) -> str | None:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest() if secret else None


class TokenCache:
    """Thread-safe token store keyed by :class:`CacheKey`; may be shared by several auth flows."""

    def __init__(self) -> None:
        self._tokens: dict[CacheKey, Token] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenCache({len(self)} tokens)"

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)

    def get(self, key: CacheKey, now: float, leeway: float = DEFAULT_LEEWAY) -> Token | None:
        """The cached token for ``key`` if it is still fresh at ``now``."""
        with self._lock:
            token = self._tokens.get(key)
        return token if token is not None and token.is_fresh(now, leeway) else None

    def put(self, key: CacheKey, token: Token) -> None:
        """Store ``token`` for ``key``."""
        with self._lock:
            self._tokens[key] = token

    def invalidate(self, key: CacheKey, token: Token | None = None) -> None:
        """Drop the token for ``key`` (only if it is still ``token``, when given)."""
        with self._lock:
            current = self._tokens.get(key)
            if current is not None and (token is None or current is token):
                del self._tokens[key]

    def clear(self) -> None:
        """Forget every token."""
        with self._lock:
            self._tokens.clear()


def _text(value: Any) -> str | None:
    return value[:_MAX_DESCRIPTION] if isinstance(value, str) and value else None


def _media_type(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.split(";")[0].strip().lower()
    return ""


def _error(status: int, body: bytes, headers: Mapping[str, str], url: str | None) -> TokenRequestError:
    media = _media_type(headers)
    if not body.strip():
        return TokenRequestError(status, None, "empty response body", url=url)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return TokenRequestError(status, None, f"non-JSON answer ({media or 'no content type'})", url=url)
    if not isinstance(payload, dict):
        return TokenRequestError(status, None, "JSON answer is not an object", url=url)
    return TokenRequestError(
        status, _text(payload.get("error")), _text(payload.get("error_description")), url=url
    )


def parse_token_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    url: str | None = None,
    default_lifetime: float = DEFAULT_TOKEN_LIFETIME,
) -> Token:
    """Turn a token endpoint answer into a :class:`Token` or raise ``TokenRequestError``."""
    if status != 200:
        raise _error(status, body, headers, url)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise TokenRequestError(status, "invalid_response", "200 answer is not JSON", url=url) from None
    if not isinstance(payload, dict):
        raise TokenRequestError(status, "invalid_response", "200 answer is not a JSON object", url=url)
    if "error" in payload:
        raise _error(status, body, headers, url)
    access_token = payload.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenRequestError(status, "invalid_response", "answer has no access_token", url=url)
    token_type = payload.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() not in ("bearer", "dpop"):
        raise TokenRequestError(status, "invalid_response", "unsupported token_type", url=url)
    expires_in = payload.get("expires_in")
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    if expires_in is None:
        lifetime = default_lifetime
    elif isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
        lifetime = float(expires_in)
    else:
        raise TokenRequestError(status, "invalid_response", "expires_in is not a positive number", url=url)
    scope = payload.get("scope")
    extra = {
        k: v for k, v in payload.items() if k not in ("access_token", "token_type", "expires_in", "scope")
    }
    return Token(
        access_token=access_token,
        token_type=token_type,
        issued_at=now,
        expires_at=now + lifetime,
        scope=scope if isinstance(scope, str) else None,
        extra=extra,
    )
