"""Sandbox test helpers: a vendor's own receiving GtK (gp/node.toml), a free port, a ready `twiin sandbox`."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest

from twiin._http import server_ssl_context
from twiin.exchange.notified_pull import Notification
from twiin.node import Node
from twiin.serving import Answer, IncomingRequest
from twiin.testing.router import Router
from twiin.testing.server import serve


def free_port() -> int:
    """A port nothing listens on right now (the vendor picks theirs before starting the sandbox)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@attrs.define
class VendorGp:
    """The vendor's GP: accepts Notification Tasks with ``node.notified_pull.accept``."""

    node: Node
    accepted: list[Notification] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def task_endpoint(self, request: IncomingRequest) -> Answer:
        notification, answer = self.node.notified_pull.accept(request)
        if notification is not None:
            with self.lock:
                self.accepted.append(notification)
        return answer


@contextmanager
def vendor_gp(config: str, port: int) -> Iterator[VendorGp]:
    """Serve the vendor's GP Task endpoint at ``https://127.0.0.1:<port>/fhir`` with ``config``."""
    with Node.from_file(config) as node:
        vendor = VendorGp(node)
        context = server_ssl_context(node.credentials, node.trust)
        with serve(Router({"/fhir": vendor.task_endpoint}), context, port=port):
            yield vendor


def wait_for_ready(path: Path, process: subprocess.Popen[str]) -> dict[str, object]:
    """The ready file ``twiin sandbox --ready-file`` writes, once it exists (fails if the process exits)."""
    deadline = time.monotonic() + 60
    while not path.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"twiin sandbox exited early ({process.returncode}): {out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("twiin sandbox did not become ready")
        time.sleep(0.05)
    return json.loads(path.read_text())  # type: ignore[no-any-return]


@contextmanager
def running_sandbox(*args: str, ready: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, object]]]:
    """``twiin sandbox ARGS`` as a subprocess and its ready file; killed if the test leaves it running."""
    command = [sys.executable, "-m", "twiin", "sandbox", *args, "--ready-file", str(ready)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process, wait_for_ready(ready, process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def stop(process: subprocess.Popen[str], stop_signal: signal.Signals = signal.SIGTERM) -> tuple[str, str]:
    """Send ``stop_signal`` and collect stdout and stderr once the process has ended."""
    process.send_signal(stop_signal)
    return process.communicate(timeout=60)
