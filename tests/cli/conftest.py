"""Shared helpers for the CLI tests: a CliRunner invocation and a ``python -m twiin`` subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from twiin.cli.main import cli

SRC = Path(__file__).resolve().parents[2] / "src"

Invoke = Callable[..., Result]


@pytest.fixture
def invoke() -> Invoke:
    """Run ``twiin`` in-process with the given arguments; stderr is kept apart from stdout."""

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run


def as_json(result: Result) -> Any:
    """The JSON document printed on stdout."""
    return json.loads(result.stdout)


def run_module(
    *args: str, cwd: Path | None = None, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m twiin`` in a subprocess with ``PYTHONPATH=src`` (``input_text`` on stdin)."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "twiin", *args],
        input=input_text,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
