"""The Medplum peer adapter stops itself: no orphaned servers after a killed test run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.interop.conftest import FHIR_PEER_DIR
from tests.support.peers import free_port, node_binary

pytestmark = pytest.mark.peer


def _wait(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=0.5)
    except httpx.HTTPError:
        return False
    return True


def test_peer_exits_when_its_parent_dies(medplum_base_url: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/fhir/metadata"
    script = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([{str(node_binary())!r}, {str(FHIR_PEER_DIR / 'server.mjs')!r}, '{port}'],"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert _wait(lambda: _answers(url), 30), "peer did not start"
        parent.kill()
        parent.wait(5)
        assert _wait(lambda: not _answers(url), 10), "peer outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
        if _answers(url):  # still ours and still running: stop it
            os.kill(child, signal.SIGKILL)
