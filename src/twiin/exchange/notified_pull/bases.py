"""A local register of authorization bases (plateau 1-2: the sender issues and checks its own).

Each base is an opaque random value bound to one patient, one receiving organisation and the
exact reads and searches of one Notification Task, with an expiry. Revocation (the sender's
cancellation) takes effect at once for every later token request and pull request.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import attrs

from twiin.errors import AuthorizationBaseError
from twiin.exchange.notified_pull.ports import AuthorizationBaseRecord
from twiin.identifiers import Bsn, Ura

__all__ = ["MemoryAuthorizationBases"]


class MemoryAuthorizationBases:
    """Thread-safe in-memory :class:`~twiin.exchange.notified_pull.ports.AuthorizationBases`."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._records: dict[str, AuthorizationBaseRecord] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryAuthorizationBases({len(self._records)} bases)"

    def issue(
        self,
        patient: Bsn,
        receiver: Ura,
        queries: Sequence[str],
        ttl: timedelta,
        *,
        reads: Sequence[str] = (),
    ) -> AuthorizationBaseRecord:
        """A new base for ``receiver`` to read ``reads`` and run ``queries`` for ``patient``."""
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        record = AuthorizationBaseRecord(
            value=secrets.token_urlsafe(32),
            patient=patient,
            receiver=receiver,
            reads=tuple(reads),
            queries=tuple(queries),
            expires_at=self._clock() + ttl,
        )
        with self._lock:
            self._records[record.value] = record
        return record

    def resolve(self, value: str) -> AuthorizationBaseRecord:
        """The live record; ``AuthorizationBaseError`` when unknown, expired or revoked."""
        with self._lock:
            record = self._records.get(value)
        if record is None:
            raise AuthorizationBaseError("unknown authorization base")
        if record.revoked:
            raise AuthorizationBaseError("authorization base revoked")
        if record.expires_at <= self._clock():
            raise AuthorizationBaseError("authorization base expired")
        return record

    def revoke(self, value: str) -> None:
        """Revoke ``value`` (idempotent; unknown values are ignored)."""
        with self._lock:
            record = self._records.get(value)
            if record is not None:
                self._records[value] = attrs.evolve(record, revoked=True)
