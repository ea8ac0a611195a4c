"""Every example script runs to completion."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STANDALONE = ["identifiers.py"]


@pytest.mark.parametrize("name", STANDALONE)
def test_standalone_example_runs(name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], check=False, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "999999151" not in result.stdout
    assert "rejected: invalid BSN" in result.stdout
