"""``twiin directory sync``: an incremental mCSD sync into the node's SQLite directory cache."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from twiin.addressing import DirectorySync, SqliteDirectoryStore, SyncOptions, SyncProgress, SyncReport
from twiin.cli._common import EXIT_CHECK_FAILED, emit, handle_errors, json_option
from twiin.cli._node import config_option, open_node
from twiin.errors import ConfigurationError
from twiin.redaction import redact

__all__ = ["register", "report_summary"]


def report_summary(report: SyncReport) -> dict[str, Any]:
    """The JSON-ready outcome of a sync run."""
    return {
        "ok": report.ok,
        "started_at": report.started_at,
        "duration": round(report.duration, 3),
        "received": report.received,
        "created": report.created,
        "updated": report.updated,
        "deleted": report.deleted,
        "rejected": [
            {"resource_type": r.resource_type, "id": r.id, "reason": r.reason, "source": r.source}
            for r in report.rejected
        ],
        "sources": [
            {
                "source": s.source,
                "kind": s.kind,
                "mode": s.mode.value,
                "pages": s.pages,
                "next_since": s.next_since,
                "notes": list(s.notes),
                "error": s.error,
            }
            for s in report.sources
        ],
    }


@contextmanager
def _progress(enabled: bool, types: int) -> Iterator[Callable[[SyncProgress], None] | None]:
    """A click progress bar (on stderr) over (source, resource type) steps."""
    if not enabled:
        yield None
        return
    seen: set[tuple[str, str]] = set()
    sources: set[str] = set()
    with click.progressbar(length=types, label="directory sync", file=sys.stderr) as bar:

        def step(event: SyncProgress) -> None:
            if event.source not in sources:
                if sources:
                    bar.length = (bar.length or 0) + types
                sources.add(event.source)
            step_name = event.resource_type if event.phase == "fetch" else event.phase
            bar.label = f"{event.source} {step_name} ({event.resources} resources so far)"
            if event.phase == "fetch" and (event.source, event.resource_type) not in seen:
                seen.add((event.source, event.resource_type))
                bar.update(1)
            else:
                bar.render_progress()

        yield step


def _print_human(summary: dict[str, Any], report: SyncReport) -> None:
    click.echo(report.summary())
    for source in summary["sources"]:
        state = (
            f"FAILED: {source['error']}"
            if source["error"]
            else f"{source['mode']}, {source['pages']} page(s)"
        )
        click.echo(redact(f"  {source['source']}: {state}"))  # errors and notes come from outside too
        for note in source["notes"]:
            click.echo(redact(f"    note: {note}"))
    for rejection in summary["rejected"]:
        line = f"  rejected {rejection['resource_type']}/{rejection['id']}: {rejection['reason']}"
        click.echo(redact(line))  # ids and reasons come from outside


def register(cli: click.Group) -> None:
    """Add the ``directory`` group to ``cli``."""

    @cli.group("directory")
    def directory() -> None:
        """Addressing directory (mCSD): keep the local cache in step."""

    @directory.command("sync")
    @config_option
    @click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        help="SQLite cache file (default: addressing.cache_path).",
    )
    @click.option("--full", is_flag=True, help="Reload everything instead of an incremental sync.")
    @click.option(
        "--root", is_flag=True, help="The directory endpoint is the LRZa root, not a query directory."
    )
    @json_option
    @handle_errors
    def sync(config_path: Path, db: Path | None, full: bool, root: bool, as_json: bool) -> None:
        """Synchronise the node's directory endpoint ([addressing] endpoint) into the SQLite cache.

        Exit 1 when a directory could not be synchronised.
        """
        with open_node(config_path) as node:
            addressing = node.settings.addressing
            path = db or addressing.cache_path
            if path is None:
                raise ConfigurationError("addressing.cache_path", "give --db or set a cache_path")
            if addressing.endpoint is None:
                raise ConfigurationError("addressing.endpoint", "no directory endpoint configured")
            endpoint = node.endpoint(addressing.endpoint)
            sources: dict[str, Any] = (
                {"root": endpoint.base_url} if root else {"query_directories": [endpoint.base_url]}
            )
            options = SyncOptions(policy=node.endpoint_policy)
            with (
                SqliteDirectoryStore(path) as store,
                _progress(not as_json, len(options.resource_types)) as progress,
                DirectorySync(
                    store,
                    **sources,
                    options=options,
                    progress=progress,
                    **node.endpoint_options(endpoint),
                ) as syncer,
            ):
                report = syncer.run(full=full)
        summary = report_summary(report)
        emit(as_json, {"db": str(path), **summary}, lambda: _print_human(summary, report))
        if not report.ok:
            raise SystemExit(EXIT_CHECK_FAILED)
