"""``twiin doctor --config FILE``: is this node configuration ready for the Twiin network?

Exit 0 when every check passes (warnings allowed), 1 when a check failed, 2 when the file
cannot be loaded as a node configuration.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from twiin.cli._common import EXIT_CHECK_FAILED, EXIT_OK, emit, handle_errors, json_option
from twiin.cli._node import config_option
from twiin.redaction import redact

if TYPE_CHECKING:
    from twiin.node.readiness import Readiness

_MARK = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo(redact("  ".join([*cells, row[-1]])))


def _human(report: Readiness) -> None:
    click.echo(f"node configuration {report.config}\n")
    _table([("CHECK", "STATUS", "DETAIL"), *((c.name, _MARK[c.status], c.detail) for c in report.checks)])
    click.echo("")
    _table(
        [
            ("FUNCTION", "PLATEAU", "VIA", "NEXT"),
            *((p.function, str(p.plateau), p.via, p.next or "-") for p in report.plateaus),
        ]
    )
    failed = [c.name for c in report.checks if c.status == "fail"]
    click.echo("\n" + ("ready" if not failed else f"NOT ready: {', '.join(failed)} failed"))


@click.command("doctor")
@config_option
@click.option("--offline", is_flag=True, help="Skip the TLS handshake and token checks.")
@json_option
@handle_errors
def doctor(config_path: Path, offline: bool, as_json: bool) -> None:
    """Check a node configuration: certificate, UZI identity, chain, expiry, TLS, tokens, plateaus."""
    from twiin.node.readiness import diagnose  # imported on use: other commands skip the node stack

    report = diagnose(config_path, network=not offline)
    emit(as_json, report.to_dict(), lambda: _human(report))
    sys.exit(EXIT_OK if report.ok else EXIT_CHECK_FAILED)


def register(cli: click.Group) -> None:
    """Add ``twiin doctor``."""
    cli.add_command(doctor)
