"""Every command built here is registered, documents --json and names its exit codes."""

from __future__ import annotations

import pytest

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
