"""Where the examples find the sandbox: the first argument or ``TWIIN_SANDBOX_DIR``.

Start one with ``twiin sandbox --dir DIR``; it writes ``DIR/sandbox.json`` and a ready-to-use
``DIR/<participant>/node.toml`` for ``hospital``, ``gp`` and ``placer``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def sandbox_dir() -> Path:
    """The sandbox directory named on the command line or in the environment."""
    value = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TWIIN_SANDBOX_DIR", "")
    if not value or not (Path(value) / "sandbox.json").is_file():
        usage = f"usage: python {sys.argv[0]} SANDBOX_DIR (or set TWIIN_SANDBOX_DIR)"
        sys.exit(f"{usage}\nstart a sandbox with: twiin sandbox --dir SANDBOX_DIR")
    return Path(value)


def sandbox_info(directory: Path) -> dict[str, Any]:
    """``sandbox.json``: the directory, Mitz and placer URLs, the participants and the test patients."""
    return json.loads((directory / "sandbox.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def node_config(directory: Path, participant: str) -> Path:
    """The generated ``node.toml`` of ``participant``."""
    return directory / participant / "node.toml"
