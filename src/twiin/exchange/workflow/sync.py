"""Resynchronisation: ``_lastUpdated`` cursors that miss nothing and repeat nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import attrs

from twiin.exchange.workflow.core import Versioned

__all__ = ["SyncCursor", "SyncResult", "advance"]


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _last_updated(item: Versioned) -> str | None:
    meta = item.resource.get("meta")
    value = meta.get("lastUpdated") if isinstance(meta, dict) else None
    return value if _instant(value) is not None else None


@attrs.frozen
class SyncCursor:
    """Where the last resynchronisation ended: the newest ``meta.lastUpdated`` seen (as the server
    wrote it) and the ``(id, versionId)`` pairs seen at exactly that instant.

    The next search asks ``_lastUpdated=ge<instant>`` and drops those pairs, so changes written in
    the same instant as the last one seen are neither lost nor reported twice.
    """

    last_updated: str | None = None
    seen: frozenset[tuple[str, str]] = frozenset()

    def params(self) -> list[tuple[str, str]]:
        """The ``_lastUpdated`` search parameter for the next round (none on the first)."""
        return [] if self.last_updated is None else [("_lastUpdated", f"ge{self.last_updated}")]


@attrs.frozen
class SyncResult:
    """Changed resources since the previous cursor, and the cursor for the next round."""

    changed: tuple[Versioned, ...]
    cursor: SyncCursor


def _key(item: Versioned) -> tuple[str, str]:
    return (item.id, item.version_id or "")


def _newest_per_id(found: Iterable[Versioned]) -> list[Versioned]:
    """One entry per resource id: the newest version (a server may repeat an entry across pages
    when the result set changes while it is paged)."""
    newest: dict[str, Versioned] = {}
    for item in found:
        kept = newest.get(item.id)
        if kept is None or not _is_older(item, kept):
            newest[item.id] = item
    return list(newest.values())


def _is_older(item: Versioned, than: Versioned) -> bool:
    mine, theirs = _instant(_last_updated(item)), _instant(_last_updated(than))
    return mine is not None and theirs is not None and mine < theirs


def advance(cursor: SyncCursor, found: Sequence[Versioned] | Iterable[Versioned]) -> SyncResult:
    """Drop what ``cursor`` already reported and move the cursor to the newest instant in ``found``."""
    fresh = [item for item in _newest_per_id(found) if _key(item) not in cursor.seen]
    newest_text, newest = cursor.last_updated, _instant(cursor.last_updated)
    for item in fresh:
        text = _last_updated(item)
        moment = _instant(text)
        if moment is not None and (newest is None or moment > newest):
            newest_text, newest = text, moment
    seen = set(cursor.seen) if newest_text == cursor.last_updated else set()
    seen.update(_key(i) for i in fresh if newest is not None and _instant(_last_updated(i)) == newest)
    fresh.sort(key=_order)
    return SyncResult(tuple(fresh), SyncCursor(newest_text, frozenset(seen)))


def _order(item: Versioned) -> tuple[bool, float]:
    moment = _instant(_last_updated(item))
    return (moment is None, moment.timestamp() if moment else 0.0)
