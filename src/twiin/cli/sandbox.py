"""``twiin sandbox``: run the local Twiin network until Ctrl-C (SIGINT) or SIGTERM.

``twiin sandbox --external gp=https://127.0.0.1:8443/fhir`` lists the vendor's own GP Task
endpoint in the directory; ``twiin sandbox notify --dir DIR`` makes the running sandbox's
hospital notify the GP (wherever the directory says) through the sandbox's control route.
"""

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
from twiin.sandbox.control import PATIENTS, request_notify

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
    for name, url in box.external.items():
        click.echo(f"  external {name:<11} {url} (your server, with {box.dir / name}/node.toml)")
    click.echo(f"  notify the GP        twiin sandbox notify --dir {box.dir}")
    click.echo("Ready. Press Ctrl-C to stop.")


def _external(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    """``--external NAME=URL`` (repeatable) as a mapping; URLs are checked by :class:`Sandbox`."""
    parsed: dict[str, str] = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep or not name or not url:
            raise click.BadParameter(f"{value!r}: expected NAME=URL, e.g. gp=https://127.0.0.1:8443/fhir")
        if name in parsed:
            raise click.BadParameter(f"{name!r} is given twice")
        parsed[name] = url
    return parsed


@click.group("sandbox", invoke_without_command=True)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write configs and certificates here (default: a temporary directory, removed on exit).",
)
@click.option(
    "--external",
    multiple=True,
    callback=_external,
    metavar="NAME=URL",
    help="Run this party yourself: the directory lists URL (https on 127.0.0.1/localhost) as its "
    "endpoint; its node.toml and certificate are still written. Only gp so far. Repeatable.",
)
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path), default=None, hidden=True)
@json_option
@click.pass_context
@handle_errors
def sandbox_command(
    ctx: click.Context,
    directory: Path | None,
    external: dict[str, str],
    ready_file: Path | None,
    as_json: bool,
) -> None:
    """Run the sandbox network (mCSD directory, fake Mitz, hospital, GP, placer) until stopped.

    Prints every endpoint and the node.toml written for each participant; a vendor's own code
    joins the network as one of the parties with that file. Stop with Ctrl-C.

    Exit codes: 0 stopped cleanly, 2 bad options (e.g. an --external URL) or unwritable files.
    """
    if ctx.invoked_subcommand is not None:
        return
    box = Sandbox(directory, external=external)  # checks --external before anything starts
    with _stop_on_signals() as stop:
        try:
            box.start()
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


@sandbox_command.command("notify")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    envvar="TWIIN_SANDBOX_DIR",
    help="The directory of the running sandbox (twiin sandbox --dir DIR; or TWIIN_SANDBOX_DIR).",
)
@click.option(
    "--patient",
    type=click.Choice(sorted(PATIENTS)),
    default="consent",
    show_default=True,
    help="The test patient: with consent (Mitz Permit) or without (the pull will be refused).",
)
@json_option
@handle_errors
def notify_command(directory: Path, patient: str, as_json: bool) -> None:
    """Make the running sandbox's hospital notify the GP that a patient's BgZ can be pulled.

    The hospital issues the authorization base and sends the Notification Task to the GP's
    endpoint in the directory (yours with --external gp=URL). Pull with gp/node.toml.

    Exit codes: 0 notified, 1 the GP refused or could not be reached, 2 no running sandbox at DIR.
    """
    summary = request_notify(directory, patient)

    def human() -> None:
        click.echo(f"notified {summary['receiver']} at {summary['endpoint']}: HTTP {summary['status']}")
        click.echo(f"  patient {summary['patient']}, {summary['queries']} queries, Task {summary['task']}")
        base = summary["authorization_base"]
        click.echo(f"  authorization base {base[:12]}... until {summary['expires_at']}")

    emit(as_json, summary, human)


def register(cli: click.Group) -> None:
    """Add ``twiin sandbox`` to the ``twiin`` command."""
    cli.add_command(sandbox_command)
