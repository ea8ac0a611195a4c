"""Architecture rules checked on the source tree."""

from __future__ import annotations

import re
from pathlib import Path

import twiin

SRC = Path(twiin.__file__).parent


def test_only_http_package_imports_httpx() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("_http/"):
            continue
        if re.search(r"^\s*(import httpx|from httpx)", path.read_text(), re.MULTILINE):
            offenders.append(rel)
    assert offenders == []


def test_package_is_typed() -> None:
    assert (SRC / "py.typed").exists()
