"""The Push and Pull example runs against its loopback peer and prints what it did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "push_pull.py"


def test_push_pull_example_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], check=False, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("push: HTTP 200, entries [201, 201]")
    assert lines[1].startswith("pull: 29 queries, ok=True")
    assert "60 conditions" in lines[1]
    assert lines[2] == "pull without consent: denied=True, requests sent: 0"
    assert "999999151" not in result.stdout
