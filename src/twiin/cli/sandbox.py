"""``twiin sandbox``: run the local Twiin network until Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import click

from twiin.cli._common import EXIT_USAGE, emit, handle_errors, json_option
from twiin.sandbox import Sandbox

__all__ = ["register"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT/SIGTERM while the block runs; the previous handlers come back after."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _write_ready(path: Path, info: dict[str, Any]) -> None:
    """Write ``info`` to ``path`` atomically, so a watcher never reads half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def _describe(box: Sandbox) -> None:
    info = box.info
    click.echo("twiin sandbox: a local Twiin network on 127.0.0.1 (mTLS, generated test PKI)")
    click.echo(f"  mCSD directory (R4)  {info['directory']}")
    click.echo(f"  Mitz (fake)          {info['mitz']}")
    for name, entry in info["participants"].items():
        click.echo(f"  {name:<9} URA {entry['ura']}  FHIR {entry['fhir_base']}  token {entry['token_url']}")
        click.echo(f"            config {entry['config']}")
    click.echo(f"  placer Subscription topic (TA Notifications)  {info['topics']['workflow']}")
    click.echo(f"  trust anchors        {box.dir / 'ca.pem'}")
    click.echo(f"  network description  {box.dir / 'sandbox.json'} (also lists the two test patients)")
    click.echo("Ready. Press Ctrl-C to stop.")


@click.command("sandbox")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write configs and certificates here (default: a temporary directory, removed on exit).",
)
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path), default=None, hidden=True)
@json_option
@handle_errors
def sandbox_command(directory: Path | None, ready_file: Path | None, as_json: bool) -> None:
    """Run the sandbox network (mCSD directory, fake Mitz, hospital, GP, placer) until stopped.

    Prints every endpoint and the node.toml written for each participant; a vendor's own code
    joins the network as one of the parties with that file. Stop with Ctrl-C.
    """
    with _stop_on_signals() as stop:
        try:
            box = Sandbox(directory).start()
        except OSError as exc:
            click.echo(f"error: cannot write the sandbox files: {exc.strerror} ({exc.filename})", err=True)
            sys.exit(EXIT_USAGE)
        with box:
            emit(as_json, box.info, lambda: _describe(box))
            if ready_file is not None:
                _write_ready(ready_file, box.info)
            while not stop.wait(0.5):
                pass
    if not as_json:
        click.echo("Sandbox stopped.")


def register(cli: click.Group) -> None:
    """Add ``twiin sandbox`` to the ``twiin`` command."""
    cli.add_command(sandbox_command)
