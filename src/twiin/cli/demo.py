"""``twiin demo``: start the sandbox in-process and run a complete BgZ Notified Pull, step by step."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from twiin.cli._common import EXIT_CHECK_FAILED, EXIT_OK, emit, handle_errors, json_option
from twiin.redaction import redact
from twiin.sandbox.demo import DemoReport, DemoStep, run_demo, start_network

__all__ = ["register"]


def _print_step(step: DemoStep, report: DemoReport) -> None:
    mark = click.style("ok  ", fg="green") if step.ok else click.style("FAIL", fg="red")
    click.echo(f"[{mark}] {step.name}: {redact(step.detail)}")
    if step.name == "pull":
        _print_table(report)


def _quiet(step: DemoStep, report: DemoReport) -> None:
    """Print nothing while running (``--json``)."""


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _print_table(report: DemoReport) -> None:
    if not report.pulled:
        return
    click.echo()
    click.echo(f"{'#':>2}  {'query':<42}  {'resource types':<36}  {'count':>5}  status")
    for number, row in enumerate(report.pulled, 1):
        types = ", ".join(row.resource_types) or "-"
        click.echo(
            f"{number:>2}  {_clip(row.display, 42):<42}  {_clip(types, 36):<36}  {row.count:>5}  {row.status}"
        )
    total = sum(row.count for row in report.pulled)
    click.echo(f"{'':>2}  {'total (' + str(report.resources) + ' distinct)':<42}  {'':<36}  {total:>5}")
    click.echo()


def _print_end(report: DemoReport) -> None:
    verdict = "the exchange succeeded and the no-consent pull was refused" if report.ok else "the demo FAILED"
    click.echo(click.style(verdict, fg="green" if report.ok else "red", bold=True))


def register(cli: click.Group) -> None:
    """Add ``twiin demo``."""

    @cli.command("demo")
    @click.option(
        "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Directory for the sandbox files and the audit trail (default: a new temporary directory).",
    )  # fmt: skip
    @json_option
    @handle_errors
    def demo(directory: Path | None, as_json: bool) -> None:
        """Start the sandbox and run a complete BgZ Notified Pull, then a pull that must be refused.

        Exit 0 only when the exchange succeeded and the pull without consent was refused.
        """
        workdir = directory or Path(tempfile.mkdtemp(prefix="twiin-demo-"))
        if not as_json:
            click.echo(f"starting the sandbox network (files in {workdir}) ...")
        with start_network(workdir) as network:
            report = run_demo(network, workdir, on_step=_quiet if as_json else _print_step)
        emit(as_json, report.summary(), lambda: _print_end(report))
        sys.exit(EXIT_OK if report.ok else EXIT_CHECK_FAILED)
