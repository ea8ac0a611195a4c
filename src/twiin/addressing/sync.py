"""Directory sync facades: :class:`DirectorySync` and :class:`AsyncDirectorySync`.

Both drive the one :class:`~twiin.addressing.sync_core.SyncEngine` and differ only in how a
Bundle is fetched. Store writes are synchronous (SQLite, milliseconds per page) in both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from typing import Any, TypeVar

from twiin.addressing.report import ProgressCallback, SyncReport
from twiin.addressing.store import DirectoryStore, Source, SourceKind
from twiin.addressing.sync_core import Fetch, SyncEngine, SyncOptions
from twiin.addressing.transport import (
    AsyncBundleFetcher,
    AsyncHttpBundleFetcher,
    BundleFetcher,
    HttpBundleFetcher,
)
from twiin.errors import ConfigurationError, TwiinError

__all__ = ["AsyncDirectorySync", "DirectorySync", "adrive", "drive"]

T = TypeVar("T")


def drive(steps: Generator[Fetch, Any, T], get: Callable[[str], Mapping[str, Any]]) -> T:
    """Run a sans-I/O generator, answering each :class:`Fetch` with ``get``."""
    try:
        request = next(steps)
        while True:
            try:
                payload = get(request.url)
            except TwiinError as exc:
                request = steps.throw(exc)
                continue
            request = steps.send(payload)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        steps.close()


async def adrive(steps: Generator[Fetch, Any, T], get: Callable[[str], Awaitable[Mapping[str, Any]]]) -> T:
    """Async twin of :func:`drive`."""
    try:
        request = next(steps)
        while True:
            try:
                payload = await get(request.url)
            except TwiinError as exc:
                request = steps.throw(exc)
                continue
            request = steps.send(payload)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        steps.close()


def _sources(root: str | None, query_directories: Sequence[str]) -> list[Source]:
    sources = [Source(url.rstrip("/"), SourceKind.QUERY) for url in query_directories]
    if root is not None:
        sources.insert(0, Source(root.rstrip("/"), SourceKind.ROOT))
    if not sources:
        raise ConfigurationError("addressing.sync", "give the LRZa root or at least one query directory")
    return sources


class DirectorySync:
    """Keeps a :class:`~twiin.addressing.store.DirectoryStore` in step with mCSD directories.

    ``root`` is the LRZa (its providers' Administration Directories are discovered and synced
    with the authority rules); ``query_directories`` are consolidated directories trusted as a
    whole. ``fetcher`` defaults to an :class:`HttpBundleFetcher` built from ``http`` options
    (``ssl_context``, ``auth``, ``transport``, ``timeouts``, ``retry``).
    """

    def __init__(
        self,
        store: DirectoryStore,
        *,
        root: str | None = None,
        query_directories: Sequence[str] = (),
        fetcher: BundleFetcher | None = None,
        options: SyncOptions | None = None,
        progress: ProgressCallback | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        **http: Any,
    ) -> None:
        self.store = store
        self._owns = fetcher is None
        self.fetcher: BundleFetcher = fetcher or HttpBundleFetcher(**http)
        self.engine = SyncEngine(
            store, _sources(root, query_directories), options, progress=progress, clock=clock
        )

    def run(self, *, full: bool = False) -> SyncReport:
        """One sync pass (``full`` forces a full reload of every source)."""
        return drive(self.engine.run(full=full), self.fetcher.get)

    def close(self) -> None:
        """Close the HTTP pool this object made."""
        if self._owns and isinstance(self.fetcher, HttpBundleFetcher):
            self.fetcher.close()

    def __enter__(self) -> DirectorySync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncDirectorySync:
    """Async twin of :class:`DirectorySync`."""

    def __init__(
        self,
        store: DirectoryStore,
        *,
        root: str | None = None,
        query_directories: Sequence[str] = (),
        fetcher: AsyncBundleFetcher | None = None,
        options: SyncOptions | None = None,
        progress: ProgressCallback | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        **http: Any,
    ) -> None:
        self.store = store
        self._owns = fetcher is None
        self.fetcher: AsyncBundleFetcher = fetcher or AsyncHttpBundleFetcher(**http)
        self.engine = SyncEngine(
            store, _sources(root, query_directories), options, progress=progress, clock=clock
        )

    async def run(self, *, full: bool = False) -> SyncReport:
        """One sync pass (``full`` forces a full reload of every source)."""
        return await adrive(self.engine.run(full=full), self.fetcher.get)

    async def close(self) -> None:
        """Close the HTTP pool this object made."""
        if self._owns and isinstance(self.fetcher, AsyncHttpBundleFetcher):
            await self.fetcher.close()

    async def __aenter__(self) -> AsyncDirectorySync:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
