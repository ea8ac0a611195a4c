"""``twiin sandbox`` as a subprocess: it starts, serves, and stops cleanly on SIGTERM and SIGINT."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.sandbox.vendor import running_sandbox, stop
from twiin._http import client_ssl_context, create_client
from twiin.cli.main import cli
from twiin.credentials import Credentials, TrustAnchors
from twiin.testing.server import is_port_open

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_twiin_sandbox_runs_until_stopped(tmp_path: Path, stop_signal: signal.Signals) -> None:
    ready = tmp_path / "ready.json"
    folder = tmp_path / "net"
    with running_sandbox("--dir", str(folder), ready=ready) as (process, info):
        assert info == json.loads((folder / "sandbox.json").read_text())
        creds = Credentials.from_pem_files(folder / "gp" / "cert.pem", folder / "gp" / "key.pem")
        context = client_ssl_context(creds, TrustAnchors.from_pem_file(folder / "ca.pem"))
        with create_client(ssl_context=context) as client:
            answer = client.get(f"{info['directory']}/Organization?identifier=11111111")
        assert answer.status_code == 200
        assert answer.json()["total"] == 1
        port = int(str(info["directory"]).split(":")[2].split("/")[0])
        out, err = stop(process, stop_signal)
    assert process.returncode == 0, err
    assert "Ready. Press Ctrl-C to stop." in out
    assert str(folder / "hospital" / "node.toml") in out
    assert "Sandbox stopped." in out
    assert "Traceback" not in err
    assert not is_port_open(port)
    assert (folder / "placer" / "node.toml").exists(), "a --dir layout is kept after the sandbox stops"


def test_twiin_sandbox_json_output(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    with running_sandbox("--json", ready=ready) as (process, info):
        out, err = stop(process)
    assert process.returncode == 0, err
    printed = json.loads(out)
    assert printed["participants"] == info["participants"]
    assert "999999151" not in out, "BSNs are redacted on the terminal"
    assert not Path(str(info["participants"]["gp"]["config"])).exists(), "the temporary layout is removed"


def test_unusable_directory_is_a_usage_error(tmp_path: Path) -> None:
    occupied = tmp_path / "file"
    occupied.write_text("not a directory")
    runner = CliRunner()
    assert runner.invoke(cli, ["sandbox", "--dir", str(occupied)]).exit_code == 2
    result = runner.invoke(cli, ["sandbox", "--dir", str(occupied / "below")])
    assert result.exit_code == 2
    assert "cannot write the sandbox files" in result.output
    assert "Traceback" not in result.output
