"""A sandbox of its own: it starts, and stopping it leaves no thread, port or temporary file behind."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from twiin.sandbox import GP, WITH_CONSENT, Sandbox
from twiin.testing.server import is_port_open
from twiin.usecases import bgz

pytestmark = pytest.mark.e2e


def _port(url: str) -> int:
    return int(url.split(":")[2].split("/", maxsplit=1)[0])


def test_start_and_close_leave_nothing_behind() -> None:
    threads_before = set(threading.enumerate())
    box = Sandbox()
    with box:
        folder = box.dir
        assert box.running
        assert (folder / "sandbox.json").exists()
        ports = [_port(box.info["directory"]), _port(box.info["mitz"]), _port(box.info["placer"])]
        ports += [_port(p["fhir_base"]) for p in box.info["participants"].values()]
        assert len(set(ports)) == 5
        assert all(is_port_open(p) for p in ports)
        box.sender.notify(GP.ura, WITH_CONSENT, bgz.QUERIES)
        assert box.puller.pull(box.accepted[-1]).ok  # traffic on every service before stopping
        with pytest.raises(RuntimeError):
            box.start()
    assert not box.running
    assert not folder.exists()
    assert not any(is_port_open(p) for p in ports)
    assert set(threading.enumerate()) <= threads_before
    box.close()  # closing twice is harmless


def test_given_directory_is_kept(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "net") as box:
        assert box.dir == (tmp_path / "net").resolve()
    assert (tmp_path / "net" / "gp" / "node.toml").exists()
    with Sandbox(tmp_path / "net") as again:  # a second run over the same directory rewrites it
        assert again.info["directory"] in (tmp_path / "net" / "gp" / "node.toml").read_text()
