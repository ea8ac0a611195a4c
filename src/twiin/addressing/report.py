"""What a directory sync reports: progress while it runs, a :class:`SyncReport` when done."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

import attrs

from twiin.addressing.store import Rejection, TypeCounts

__all__ = ["ProgressCallback", "SourceReport", "SyncMode", "SyncProgress", "SyncReport"]


class SyncMode(enum.StrEnum):
    """How a source was read in one sync."""

    FULL = "full"
    """Plain searches of every resource type (initial load, periodic reload)."""
    HISTORY = "history"
    """``<Type>/_history?_since=`` (the mCSD Update Client way; sees deletes)."""
    LAST_UPDATED = "lastUpdated"
    """``<Type>?_lastUpdated=gt`` searches: the server has no type-level ``_history``; deletes
    are only seen at the next full reload."""
    REMOVED = "removed"
    """The directory was unregistered (its LRZa Endpoint is gone) and its content removed."""


@attrs.frozen
class SyncProgress:
    """One step of a running sync, for progress bars."""

    source: str
    resource_type: str
    pages: int
    resources: int
    phase: str = "fetch"


ProgressCallback = Callable[[SyncProgress], None]


@attrs.frozen
class SourceReport:
    """The outcome for one directory."""

    source: str
    kind: str
    mode: SyncMode
    ura: str | None = None
    counts: Mapping[str, TypeCounts] = attrs.field(factory=dict)
    rejected: tuple[Rejection, ...] = ()
    next_since: str | None = None
    pages: int = 0
    notes: tuple[str, ...] = ()
    error: str | None = None
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the source was synchronised without error."""
        return self.error is None


@attrs.frozen
class SyncReport:
    """The outcome of one sync run over every directory."""

    started_at: str
    duration: float
    sources: tuple[SourceReport, ...]

    @property
    def ok(self) -> bool:
        """True when every source was synchronised."""
        return all(s.ok for s in self.sources)

    @property
    def errors(self) -> dict[str, str]:
        """Source -> error message, for the sources that failed."""
        return {s.source: s.error for s in self.sources if s.error is not None}

    def counts(self) -> dict[str, TypeCounts]:
        """Counts per resource type over all sources."""
        total: dict[str, TypeCounts] = {}
        for source in self.sources:
            for rtype, counts in source.counts.items():
                total.setdefault(rtype, TypeCounts()).add(counts)
        return total

    def _sum(self, name: str) -> int:
        return sum(getattr(c, name) for c in self.counts().values())

    @property
    def created(self) -> int:
        """Resources created over all sources."""
        return self._sum("created")

    @property
    def updated(self) -> int:
        """Resources updated over all sources."""
        return self._sum("updated")

    @property
    def deleted(self) -> int:
        """Resources deleted over all sources."""
        return self._sum("deleted")

    @property
    def received(self) -> int:
        """Resources received over all sources."""
        return self._sum("received")

    @property
    def rejected(self) -> tuple[Rejection, ...]:
        """Every rejected resource, with its reason."""
        return tuple(r for s in self.sources for r in s.rejected)

    @property
    def history_fallback(self) -> bool:
        """True when some source had no type-level ``_history`` and was read with ``_lastUpdated``."""
        return any(s.mode is SyncMode.LAST_UPDATED for s in self.sources)

    @property
    def next_since(self) -> dict[str, str | None]:
        """Source -> the ``_since`` the next incremental sync will use."""
        return {s.source: s.next_since for s in self.sources if s.mode is not SyncMode.REMOVED}

    def summary(self) -> str:
        """One human-readable line."""
        text = (
            f"{len(self.sources)} source(s) in {self.duration:.2f}s: {self.received} received, "
            f"{self.created} created, {self.updated} updated, {self.deleted} deleted, "
            f"{len(self.rejected)} rejected"
        )
        if self.history_fallback:
            text += "; _lastUpdated fallback used (no type-level _history)"
        if not self.ok:
            text += f"; {len(self.errors)} source(s) failed"
        return text
