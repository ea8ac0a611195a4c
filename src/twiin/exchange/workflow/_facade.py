"""Shared plumbing of the workflow facades: backend, clock, audit observer, sync/async drivers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from twiin.audit import Auditor
from twiin.exchange.workflow.auditing import audit_observer
from twiin.exchange.workflow.core import Observer, Operation, arun, run

__all__ = ["Clock", "FacadeBase"]

T = TypeVar("T")
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _observer(auditor: Auditor | None, role: str) -> Observer | None:
    return audit_observer(auditor, role=role) if auditor is not None else None


class FacadeBase:
    """Holds the backend, clock and observer; ``_run``/``_arun`` drive one operation."""

    def __init__(self, backend: Any, clock: Clock | None, auditor: Auditor | None, role: str) -> None:
        self._backend = backend
        self._clock = clock or _utc_now
        self._observer = _observer(auditor, role)

    def _run(self, operation: Operation[T]) -> T:
        if self._observer is None:
            return run(operation, self._backend)
        return run(operation, self._backend, self._observer)

    async def _arun(self, operation: Operation[T]) -> T:
        if self._observer is None:
            return await arun(operation, self._backend)
        return await arun(operation, self._backend, self._observer)
