"""The mCSD Update Client logic, sans I/O.

:meth:`SyncEngine.run` is a generator: it yields :class:`Fetch` requests (a URL whose Bundle
it needs) and receives the parsed Bundle back (or has the transport's
:class:`~twiin.errors.TwiinError` thrown in). The sync and async drivers in
:mod:`twiin.addressing.sync` only do the fetching, so the logic exists once.

Per source: a full load (searches with paging) the first time and every
``full_reload_every``; otherwise ``<Type>/_history?_since=`` per resource type, falling back to
``<Type>?_lastUpdated=gt`` when the server has no type-level history. The next ``_since`` is
the server's clock (the first Bundle's ``meta.lastUpdated``), else local start time minus a
margin. After the LRZa root, the providers' Administration Directories it lists are synced
too, each allowed to speak only for the URA that registered it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import attrs

from twiin.addressing.endpoint import EndpointPolicy
from twiin.addressing.mcsd import MCSD_TYPES, Malformed, parse_instant, reference_id, uras_of, valid_id
from twiin.addressing.paging import Fetch, follow
from twiin.addressing.report import ProgressCallback, SourceReport, SyncMode, SyncProgress, SyncReport
from twiin.addressing.store import DirectoryStore, Rejection, Source, SourceKind, StoreBatch, TypeCounts
from twiin.errors import AddressingError, FHIRError, TwiinError, UnsafeEndpoint
from twiin.redaction import get_logger

__all__ = ["HISTORY_UNSUPPORTED", "Fetch", "SyncEngine", "SyncOptions"]

log = get_logger(__name__)

HISTORY_UNSUPPORTED = frozenset({400, 404, 405, 410, 501})
"""Statuses of a type-level ``_history`` request that mean "not supported here"."""


@attrs.frozen
class SyncOptions:
    """Tuning of the sync engine."""

    resource_types: tuple[str, ...] = MCSD_TYPES
    page_size: int = 100
    since_margin: dt.timedelta = dt.timedelta(seconds=2)
    full_reload_every: dt.timedelta | None = dt.timedelta(hours=24)
    max_pages: int = 10_000
    policy: EndpointPolicy = attrs.field(factory=EndpointPolicy)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def screen(source: Source, resource: Mapping[str, Any]) -> str | None:
    """Why ``resource`` may not come from ``source`` (authority / anti-spoofing), or ``None``."""
    if resource.get("resourceType") != "Organization" or source.kind is SourceKind.QUERY:
        return None
    uras, invalid = uras_of(resource)
    if invalid:
        return "carries an invalid URA identifier"
    part_of = reference_id(resource.get("partOf"), "Organization", source.url)
    if not uras and part_of is None:
        return "has neither a URA identifier nor partOf (invariant ura-identifier-or-partof)"
    if source.kind is SourceKind.PROVIDER:
        for ura in uras:
            if ura != source.ura:
                return f"claims URA {ura} but the directory was registered by URA {source.ura}"
    return None


@attrs.define
class _Run:
    """Mutable state of one source's sync."""

    source: Source
    batch: StoreBatch
    counts: dict[str, TypeCounts] = attrs.field(factory=dict)
    rejected: list[Rejection] = attrs.field(factory=list)
    notes: list[str] = attrs.field(factory=list)
    server_time: str | None = None
    pages: int = 0
    resources: int = 0


class SyncEngine:
    """Synchronises directories into a :class:`~twiin.addressing.store.DirectoryStore`."""

    def __init__(
        self,
        store: DirectoryStore,
        sources: Sequence[Source],
        options: SyncOptions | None = None,
        *,
        progress: ProgressCallback | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.store = store
        self.sources = tuple(sources)
        self.options = options or SyncOptions()
        self.progress = progress
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        for source in self.sources:
            if source.kind is SourceKind.PROVIDER:
                raise AddressingError(
                    "provider directories are discovered from the LRZa root, not configured"
                )
            self.options.policy.check(source.url)

    def run(self, *, full: bool = False) -> Generator[Fetch, Any, SyncReport]:
        """Sync every configured source, then the directories the roots list."""
        started = self.clock()
        began = time.monotonic()
        reports: list[SourceReport] = []
        for source in self.sources:
            reports.append((yield from self._guarded(source, full)))
        for root in (s for s in self.sources if s.kind is SourceKind.ROOT):
            reports.extend((yield from self._providers(root, full)))
        return SyncReport(_iso(started), time.monotonic() - began, tuple(reports))

    def _providers(self, root: Source, full: bool) -> Generator[Fetch, Any, list[SourceReport]]:
        reports: list[SourceReport] = []
        wanted: dict[str, Source] = {}
        refused: list[Rejection] = []
        for ura, address in self.store.admin_directories(root):
            try:
                self.options.policy.check(address)
            except UnsafeEndpoint as exc:
                refused.append(
                    Rejection("Endpoint", "-", f"directory of URA {ura} refused: {exc.message}", str(root))
                )
                continue
            source = Source(address.rstrip("/"), SourceKind.PROVIDER, ura)
            wanted[source.key] = source
        if refused:
            note = "unsafe Administration Directory addresses were not contacted"
            reports.append(
                SourceReport(
                    str(root), root.kind.value, SyncMode.FULL, rejected=tuple(refused), notes=(note,)
                )
            )
        for state in self.store.sources():
            old = state.source
            if old.kind is SourceKind.PROVIDER and old.key not in wanted:
                result = self.store.remove_source(old)
                reports.append(
                    SourceReport(str(old), old.kind.value, SyncMode.REMOVED, old.ura, result.counts)
                )
        for key in sorted(wanted):
            reports.append((yield from self._guarded(wanted[key], full)))
        return reports

    def _guarded(self, source: Source, full: bool) -> Generator[Fetch, Any, SourceReport]:
        began = time.monotonic()
        try:
            return (yield from self._sync_source(source, full, began))
        except TwiinError as exc:
            log.warning("directory sync of %s failed: %s", source, exc.message)
            return SourceReport(str(source), source.kind.value, SyncMode.FULL, source.ura,
                                error=exc.message, duration=time.monotonic() - began)  # fmt: skip

    def _is_full(self, full: bool, now: dt.datetime, since: str | None, last_full: str | None) -> bool:
        if full or since is None or last_full is None:
            return True
        every = self.options.full_reload_every
        if every is None:
            return False
        return now - dt.datetime.fromisoformat(last_full) >= every

    def _sync_source(self, source: Source, full: bool, began: float) -> Generator[Fetch, Any, SourceReport]:
        opts = self.options
        state = self.store.source_state(source)
        now = self.clock()
        since = state.since if state else None
        history = state.history_supported if state else None
        full = self._is_full(full, now, since, state.last_full if state else None)
        mode = (
            SyncMode.FULL if full else (SyncMode.HISTORY if history is not False else SyncMode.LAST_UPDATED)
        )
        run = _Run(source, self.store.begin(source, full=full, resource_types=opts.resource_types))
        try:
            for rtype in opts.resource_types:
                if mode is SyncMode.HISTORY:
                    try:
                        yield from self._pages(run, rtype, self._url(source, rtype, mode, since))
                        history = True
                        continue
                    except FHIRError as exc:
                        if exc.status not in HISTORY_UNSUPPORTED:
                            raise
                        history, mode = False, SyncMode.LAST_UPDATED
                        run.notes.append(
                            f"type-level _history answered {exc.status}: fell back to _lastUpdated=gt"
                            " searches; deletes are only seen at the next full reload"
                        )
                yield from self._pages(run, rtype, self._url(source, rtype, mode, since))
            if mode is SyncMode.LAST_UPDATED and not run.notes:
                run.notes.append("no type-level _history (known): used _lastUpdated=gt searches")
            next_since = run.server_time or _iso(now - opts.since_margin)
            self._report(run, "*", "apply")
            result = run.batch.commit(since=next_since, history_supported=history, now=_iso(now))
        except BaseException:
            run.batch.discard()
            raise
        for rtype, counts in result.counts.items():
            run.counts.setdefault(rtype, TypeCounts()).add(counts)
        self._report(run, "*", "done")
        return SourceReport(
            str(source), source.kind.value, mode, source.ura, run.counts,
            tuple(run.rejected) + result.rejected, next_since, run.pages, tuple(run.notes),
            duration=time.monotonic() - began,
        )  # fmt: skip

    def _url(self, source: Source, rtype: str, mode: SyncMode, since: str | None) -> str:
        base = source.url.rstrip("/")
        count = self.options.page_size
        if mode is SyncMode.FULL:
            return f"{base}/{rtype}?" + urlencode({"_count": count})
        if mode is SyncMode.HISTORY:
            return f"{base}/{rtype}/_history?" + urlencode({"_since": since, "_count": count})
        return f"{base}/{rtype}?" + urlencode({"_lastUpdated": f"gt{since}", "_count": count})

    def _pages(self, run: _Run, rtype: str, url: str) -> Generator[Fetch, Any, None]:
        def on_page(bundle: Mapping[str, Any]) -> None:
            run.pages += 1
            if run.server_time is None:
                meta = bundle.get("meta")
                run.server_time = (
                    parse_instant(meta.get("lastUpdated")) if isinstance(meta, Mapping) else None
                )
            entries = bundle.get("entry")
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, Mapping):
                    self._entry(run, rtype, entry)
            self._report(run, rtype, "fetch")

        yield from follow(url, run.source.url, on_page, max_pages=self.options.max_pages)

    def _entry(self, run: _Run, rtype: str, entry: Mapping[str, Any]) -> None:
        resource = entry.get("resource")
        request: Mapping[str, Any] = entry["request"] if isinstance(entry.get("request"), Mapping) else {}
        counts = run.counts.setdefault(rtype, TypeCounts())
        if request.get("method") == "DELETE" or (resource is None and request):
            target = str(request.get("url") or entry.get("fullUrl") or "")
            rid = reference_id({"reference": target.split("?", maxsplit=1)[0]}, rtype, run.source.url)
            if rid is not None:
                counts.received += 1
                response: Mapping[str, Any] = (
                    entry["response"] if isinstance(entry.get("response"), Mapping) else {}
                )
                run.batch.stage(rtype, rid, parse_instant(response.get("lastModified")), None)
            return
        if not isinstance(resource, Mapping) or resource.get("resourceType") != rtype:
            return  # included resources of other types, OperationOutcomes: not this query's
        counts.received += 1
        run.resources += 1
        try:
            rid = valid_id(resource.get("id"))
        except Malformed as exc:
            self._reject(run, counts, Rejection(rtype, "-", exc.reason, str(run.source)))
            return
        reason = screen(run.source, resource)
        if reason is not None:
            self._reject(run, counts, Rejection(rtype, rid, reason, str(run.source)))
            return
        meta = resource.get("meta")
        stamp = parse_instant(meta.get("lastUpdated")) if isinstance(meta, Mapping) else None
        run.batch.stage(rtype, rid, stamp, resource)

    @staticmethod
    def _reject(run: _Run, counts: TypeCounts, rejection: Rejection) -> None:
        counts.rejected += 1
        run.rejected.append(rejection)
        log.warning(
            "rejected %s/%s from %s: %s", rejection.resource_type, rejection.id, run.source, rejection.reason
        )

    def _report(self, run: _Run, rtype: str, phase: str) -> None:
        if self.progress is not None:
            self.progress(SyncProgress(str(run.source), rtype, run.pages, run.resources, phase))
