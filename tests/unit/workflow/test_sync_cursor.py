"""The _lastUpdated resynchronisation cursor."""

from __future__ import annotations

from twiin.exchange.workflow import SyncCursor, Versioned
from twiin.exchange.workflow.sync import advance


def task(tid: str, version: str, stamp: str | None) -> Versioned:
    meta = {"versionId": version} | ({"lastUpdated": stamp} if stamp else {})
    return Versioned.of({"resourceType": "Task", "id": tid, "meta": meta})


def test_first_round_has_no_time_filter() -> None:
    assert SyncCursor().params() == []


def test_cursor_moves_to_newest_and_drops_repeats_at_the_boundary() -> None:
    first = advance(
        SyncCursor(),
        [task("b", "1", "2026-10-09T10:00:01.000Z"), task("a", "1", "2026-10-09T10:00:00.000Z")],
    )
    assert [t.id for t in first.changed] == ["a", "b"]  # oldest first
    assert first.cursor.last_updated == "2026-10-09T10:00:01.000Z"
    assert first.cursor.params() == [("_lastUpdated", "ge2026-10-09T10:00:01.000Z")]
    # the server answers ge: b again (already seen), c written in the same millisecond, a updated later
    second = advance(
        first.cursor,
        [
            task("b", "1", "2026-10-09T10:00:01.000Z"),
            task("c", "1", "2026-10-09T10:00:01.000Z"),
            task("a", "2", "2026-10-09T10:00:05.000Z"),
        ],
    )
    assert [(t.id, t.version_id) for t in second.changed] == [("c", "1"), ("a", "2")]
    assert second.cursor.last_updated == "2026-10-09T10:00:05.000Z"
    assert second.cursor.seen == {("a", "2")}


def test_same_instant_accumulates_seen() -> None:
    stamp = "2026-10-09T10:00:00Z"
    one = advance(SyncCursor(), [task("a", "1", stamp)])
    two = advance(one.cursor, [task("a", "1", stamp), task("b", "1", stamp)])
    assert [t.id for t in two.changed] == ["b"]
    assert two.cursor.seen == {("a", "1"), ("b", "1")}
    assert advance(two.cursor, [task("a", "1", stamp), task("b", "1", stamp)]).changed == ()


def test_nothing_new_keeps_the_cursor() -> None:
    cursor = SyncCursor("2026-10-09T10:00:00Z", frozenset({("a", "1")}))
    assert advance(cursor, []).cursor == cursor


def test_unparseable_stamps_do_not_move_the_cursor() -> None:
    result = advance(SyncCursor(), [task("a", "1", "yesterday"), task("b", "1", None)])
    assert {t.id for t in result.changed} == {"a", "b"}
    assert result.cursor.last_updated is None


def test_an_entry_repeated_across_pages_is_reported_once_at_its_newest_version() -> None:
    result = advance(
        SyncCursor(),
        [
            task("a", "1", "2026-10-09T10:00:00Z"),
            task("b", "1", "2026-10-09T10:00:01Z"),
            task("a", "2", "2026-10-09T10:00:02Z"),
            task("b", "1", "2026-10-09T10:00:01Z"),
            task("a", "1", "2026-10-09T10:00:00Z"),
        ],
    )
    assert [(t.id, t.version_id) for t in result.changed] == [("b", "1"), ("a", "2")]
