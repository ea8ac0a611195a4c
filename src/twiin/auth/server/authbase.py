"""Authorization bases: the sender's grant, sent in a Notified Pull notification, to pull data.

An authorization base is an opaque, unguessable value (256 random bits, base64url) bound to a
patient, the receiving organisation (URA), the exact queries made available, and an expiry.
The receiver returns it in its token request; our token endpoint resolves it and issues a token
for exactly those queries. Revoking it (Notified Pull cancellation) stops further use at once.

Stores keep only a SHA-256 digest of the value, so a store dump holds nothing usable. The
non-secret :attr:`AuthorizationBase.id` (a digest prefix) may be logged and put in tokens.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import attrs

from twiin.errors import AuthorizationBaseError, ConfigurationError
from twiin.identifiers import Bsn, Ura

__all__ = [
    "DEFAULT_AUTHORIZATION_BASE_TTL",
    "AuthorizationBase",
    "AuthorizationBaseStore",
    "MemoryAuthorizationBaseStore",
    "authorization_base_id",
]

DEFAULT_AUTHORIZATION_BASE_TTL = timedelta(days=7)
_VALUE_BYTES = 32
_MAX_VALUE_LENGTH = 512


def authorization_base_id(value: str) -> str:
    """The non-secret reference of an authorization base value (first 32 hex of its SHA-256)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


@attrs.frozen(repr=False)
class AuthorizationBase:
    """An issued authorization base. ``value`` is secret; ``id`` is a safe reference."""

    value: str = attrs.field(eq=False)
    id: str
    patient: Bsn
    receiver: Ura
    queries: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    sender: Ura | None = None
    revoked: bool = False

    def __repr__(self) -> str:
        return (
            f"AuthorizationBase(id={self.id!r}, receiver={self.receiver!r}, "
            f"queries={len(self.queries)}, expires_at={self.expires_at.isoformat()}, revoked={self.revoked})"
        )

    def is_valid(self, now: datetime) -> bool:
        """True when not revoked and not expired at ``now``."""
        return not self.revoked and now < self.expires_at


def _now(now: datetime | None) -> datetime:
    value = now or datetime.now(UTC)
    if value.tzinfo is None:
        raise ConfigurationError("now", "must be timezone-aware")
    return value


class AuthorizationBaseStore(ABC):
    """Issues, resolves, checks and revokes authorization bases. Subclass ``_save``/``_load``/``_revoke``
    to keep them in a shared database for multi-instance deployments."""

    def issue(
        self,
        patient: Bsn,
        receiver: Ura,
        queries: Sequence[str],
        *,
        expires_at: datetime | None = None,
        ttl: timedelta | None = None,
        sender: Ura | None = None,
        now: datetime | None = None,
    ) -> AuthorizationBase:
        """A new authorization base for ``receiver`` to run exactly ``queries`` for ``patient``."""
        if not isinstance(patient, Bsn) or not isinstance(receiver, Ura):
            raise ConfigurationError("authorization_base", "patient must be a Bsn and receiver a Ura")
        if isinstance(queries, str) or not queries or not all(isinstance(q, str) and q for q in queries):
            raise ConfigurationError("authorization_base.queries", "a non-empty sequence of query strings")
        issued = _now(now)
        if expires_at is not None and ttl is not None:
            raise ConfigurationError("authorization_base", "give expires_at or ttl, not both")
        expiry = expires_at or issued + (ttl or DEFAULT_AUTHORIZATION_BASE_TTL)
        if expiry <= issued:
            raise ConfigurationError("authorization_base.expires_at", "must be in the future")
        value = secrets.token_urlsafe(_VALUE_BYTES)
        record = AuthorizationBase(
            value=value,
            id=authorization_base_id(value),
            patient=patient,
            receiver=receiver,
            queries=tuple(queries),
            issued_at=issued,
            expires_at=expiry,
            sender=sender,
        )
        self._save(record)
        return record

    def resolve(self, value: str, *, now: datetime | None = None) -> AuthorizationBase:
        """The valid base for ``value``; ``AuthorizationBaseError`` if unknown, expired or revoked."""
        if not isinstance(value, str) or not value or len(value) > _MAX_VALUE_LENGTH:
            raise AuthorizationBaseError("authorization base is malformed")
        return attrs.evolve(self.resolve_id(authorization_base_id(value), now=now), value=value)

    def resolve_id(self, base_id: str, *, now: datetime | None = None) -> AuthorizationBase:
        """Like :meth:`resolve`, by the non-secret ``id`` (used when checking issued tokens)."""
        record = self._load(base_id)
        if record is None:
            raise AuthorizationBaseError("authorization base is unknown")
        if record.revoked:
            raise AuthorizationBaseError("authorization base was revoked")
        if not record.is_valid(_now(now)):
            raise AuthorizationBaseError("authorization base has expired")
        return record

    def check(
        self,
        value: str,
        *,
        receiver: Ura,
        patient: Bsn | None = None,
        query: str | None = None,
        now: datetime | None = None,
    ) -> AuthorizationBase:
        """Resolve ``value`` and require it to be for ``receiver`` (and ``patient``/``query`` when given)."""
        record = self.resolve(value, now=now)
        if record.receiver != receiver:
            raise AuthorizationBaseError("authorization base was issued to another organisation")
        if patient is not None and record.patient != patient:
            raise AuthorizationBaseError("authorization base is for another patient")
        if query is not None and query not in record.queries:
            raise AuthorizationBaseError("query is not covered by the authorization base")
        return record

    def revoke(self, value: str) -> None:
        """Revoke ``value`` (unknown values are ignored, revoking twice is harmless)."""
        if isinstance(value, str) and value:
            self._revoke(authorization_base_id(value))

    def revoke_id(self, base_id: str) -> None:
        """Revoke by the non-secret ``id``."""
        self._revoke(base_id)

    @abstractmethod
    def _save(self, record: AuthorizationBase) -> None: ...

    @abstractmethod
    def _load(self, base_id: str) -> AuthorizationBase | None: ...

    @abstractmethod
    def _revoke(self, base_id: str) -> None: ...


class MemoryAuthorizationBaseStore(AuthorizationBaseStore):
    """In-process store (single instance, lost at restart). Keeps no raw values."""

    def __init__(self) -> None:
        self._records: dict[str, AuthorizationBase] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryAuthorizationBaseStore({len(self._records)} bases)"

    def _save(self, record: AuthorizationBase) -> None:
        with self._lock:
            self._records[record.id] = attrs.evolve(record, value="")

    def _load(self, base_id: str) -> AuthorizationBase | None:
        with self._lock:
            return self._records.get(base_id)

    def _revoke(self, base_id: str) -> None:
        with self._lock:
            record = self._records.get(base_id)
            if record is not None:
                self._records[base_id] = attrs.evolve(record, revoked=True)
