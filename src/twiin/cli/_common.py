"""Shared pieces of the ``twiin`` commands: exit codes, JSON/human output, error handling."""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from twiin.errors import ConfigurationError, TwiinError
from twiin.redaction import redact

__all__ = ["EXIT_CHECK_FAILED", "EXIT_OK", "EXIT_USAGE", "emit", "handle_errors", "json_option"]

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def emit(
    as_json: bool,
    data: Any,
    human: Callable[[], None] | None = None,
    *,
    redact_output: bool = True,
) -> None:
    """Print ``data`` as JSON when ``as_json``; otherwise run ``human`` (or print ``data``).

    Output is redacted (BSNs, tokens, PEM) unless ``redact_output`` is false, for data that
    cannot hold any (a certificate's identity). ``human`` does its own printing.
    """
    clean = redact if redact_output else str
    if as_json:
        click.echo(clean(json.dumps(data, indent=2, sort_keys=True, default=str)))
    elif human is not None:
        human()
    else:
        click.echo(clean(str(data)))


def handle_errors(func: F) -> F:
    """Turn errors into exit codes, never a traceback.

    Configuration errors and unusable local files (``OSError``, a broken SQLite cache) -> 2,
    any other twiin error -> 1.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigurationError as exc:
            click.echo(f"configuration error: {redact(str(exc))}", err=True)
            sys.exit(EXIT_USAGE)
        except TwiinError as exc:
            click.echo(f"error: {redact(str(exc))}", err=True)
            sys.exit(EXIT_CHECK_FAILED)
        except (OSError, sqlite3.Error) as exc:
            click.echo(f"cannot use a local file: {redact(str(exc))}", err=True)
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]
