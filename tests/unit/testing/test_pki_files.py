"""TestPKI writes private keys readable by their owner only."""

from __future__ import annotations

import stat
from pathlib import Path

from twiin.testing.pki import TestPKI


def test_key_file_is_owner_only_even_when_it_existed(pki: TestPKI, tmp_path: Path) -> None:
    stale = tmp_path / "node.key"
    stale.write_bytes(b"old")
    stale.chmod(0o644)
    _, key = pki.issue_server(ura="1").write_pem(tmp_path, "node")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes().startswith(b"-----BEGIN")
