"""Every command built here is registered, documents --json and names its exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import twiin
from tests.cli.conftest import Invoke

COMMANDS = [
    ("cert", "inspect"),
    ("validate",),
    ("resolve",),
    ("directory", "sync"),
    ("consent", "check"),
    ("token",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help(invoke: Invoke, command: tuple[str, ...]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "--json" in result.output
    assert "Exit" in result.output


def test_missing_required_option_is_exit_2(invoke: Invoke) -> None:
    assert invoke("consent", "check").exit_code == 2
    assert invoke("token").exit_code == 2


def test_a_command_loads_only_its_own_module() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from twiin.cli.main import cli\n"
        "assert CliRunner().invoke(cli, ['validate', '--help']).exit_code == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith(('twiin.cli.', 'twiin.sandbox'))))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(twiin.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    loaded = done.stdout
    assert "twiin.cli.validate" in loaded
    assert "twiin.sandbox" not in loaded
    assert "twiin.cli.demo" not in loaded
