"""The directory store protocol and its value types.

A store keeps what the sync engine fetched from each directory (a *source*) and the endpoints
derived from it per URA. :class:`~twiin.addressing.sqlite_store.SqliteDirectoryStore` is the
embedded default; deployments with many instances can plug in a shared database by
implementing :class:`DirectoryStore`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

from twiin.addressing.endpoint import ResolvedEndpoint
from twiin.errors import redact_url

__all__ = [
    "ApplyResult",
    "DirectoryStore",
    "Rejection",
    "Source",
    "SourceKind",
    "SourceState",
    "StoreBatch",
    "TypeCounts",
]


class SourceKind(enum.StrEnum):
    """How far a directory is trusted."""

    ROOT = "root"
    """The LRZa root directory: authoritative for URA and name; lists providers' directories."""
    QUERY = "query"
    """A consolidated Query Directory trusted for every organisation."""
    PROVIDER = "provider"
    """A provider's Administration Directory: may only speak for the URA that registered it."""


@attrs.frozen
class Source:
    """One directory the store holds data of. ``ura`` is set for provider directories."""

    url: str
    kind: SourceKind = SourceKind.QUERY
    ura: str | None = None

    @property
    def key(self) -> str:
        """Stable key: the URL, plus the registering URA for provider directories."""
        return f"{self.url}#ura={self.ura}" if self.kind is SourceKind.PROVIDER else self.url

    @property
    def authoritative(self) -> bool:
        """True when the source may speak for every URA (root or query directory)."""
        return self.kind is not SourceKind.PROVIDER

    def __str__(self) -> str:
        suffix = f" (URA {self.ura})" if self.ura else ""
        return f"{self.kind.value} {redact_url(self.url)}{suffix}"


@attrs.frozen
class SourceState:
    """What the store remembers about a source between syncs."""

    source: Source
    since: str | None = None
    last_full: str | None = None
    history_supported: bool | None = None


@attrs.frozen
class Rejection:
    """A resource that was not used, and why. Reported, never silently dropped."""

    resource_type: str
    id: str
    reason: str
    source: str = ""


@attrs.define
class TypeCounts:
    """Per resource type: what arrived and what it did to the store."""

    received: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    rejected: int = 0

    def add(self, other: TypeCounts) -> None:
        """Add ``other``'s counts to these."""
        for field in attrs.fields(TypeCounts):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def as_dict(self) -> dict[str, int]:
        """The counts as a dict."""
        return attrs.asdict(self)


@attrs.frozen
class ApplyResult:
    """What one committed batch changed."""

    counts: Mapping[str, TypeCounts]
    rejected: tuple[Rejection, ...] = ()
    uras_changed: int = 0


class StoreBatch(Protocol):
    """Changes from one source, staged and then committed in one transaction."""

    def stage(
        self, resource_type: str, resource_id: str, timestamp: str | None, resource: Mapping[str, Any] | None
    ) -> None:
        """Stage an upsert (``resource``) or a delete (``None``); the newest version per id wins."""

    def commit(self, *, since: str | None, history_supported: bool | None, now: str) -> ApplyResult:
        """Apply every staged change and the source's new cursor atomically (``now``: UTC ISO time)."""

    def discard(self) -> None:
        """Drop the staged changes; the store is left as it was."""


class DirectoryStore(Protocol):
    """Storage for synchronised directory content and the endpoints derived from it."""

    def endpoints(self, ura: str, payload_code: str | None = None) -> list[ResolvedEndpoint]:
        """Endpoints of ``ura`` (only those carrying ``payload_code`` when given), in order."""

    def source_state(self, source: Source) -> SourceState | None:
        """The stored state of ``source``; ``None`` when it was never synchronised."""

    def sources(self) -> list[SourceState]:
        """Every source the store holds."""

    def begin(self, source: Source, *, full: bool, resource_types: Sequence[str]) -> StoreBatch:
        """Start a batch for ``source``. A ``full`` batch replaces ``resource_types`` entirely."""

    def remove_source(self, source: Source) -> ApplyResult:
        """Forget a source and everything it contributed, in one transaction."""

    def admin_directories(self, root: Source) -> list[tuple[str, str]]:
        """``(URA, address)`` of every active Administration Directory endpoint in ``root``."""

    def close(self) -> None:
        """Release connections."""
