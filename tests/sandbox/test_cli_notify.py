"""``twiin sandbox --external`` and ``twiin sandbox notify``: options, exit codes, the whole flow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.sandbox.vendor import free_port, running_sandbox, stop, vendor_gp
from twiin.cli.main import cli
from twiin.sandbox import NO_CONSENT, WITH_CONSENT, Sandbox

pytestmark = pytest.mark.e2e


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("gp", "expected NAME=URL"),
        ("gp=http://127.0.0.1:8443/fhir", "must be an https URL"),
        ("gp=https://10.0.0.1:8443/fhir", "on 127.0.0.1 or localhost"),
        ("dentist=https://127.0.0.1:8443/fhir", "unknown sandbox participant 'dentist'"),
    ],
)
def test_a_bad_external_party_is_a_usage_error(tmp_path: Path, value: str, message: str) -> None:
    result = _invoke("sandbox", "--dir", str(tmp_path / "box"), "--external", value)
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "box").exists()


def test_notify_the_sandboxs_own_gp(sandbox: Sandbox) -> None:
    before = len(sandbox.accepted)
    result = _invoke("sandbox", "notify", "--dir", str(sandbox.dir), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == 201
    assert summary["endpoint"] == sandbox.info["participants"]["gp"]["fhir_base"]
    assert len(sandbox.accepted) == before + 1
    assert sandbox.accepted[-1].task.identifier == summary["task"]


def test_notify_human_output_masks_the_patient(sandbox: Sandbox) -> None:
    result = _invoke("sandbox", "notify", "--dir", str(sandbox.dir), "--patient", "no-consent")
    assert result.exit_code == 0, result.output
    assert "notified 22222222 at https://127.0.0.1:" in result.output
    assert f"patient {NO_CONSENT.masked}, 29 queries" in result.output
    assert NO_CONSENT.value not in result.output


def test_notify_without_a_sandbox_is_a_usage_error(tmp_path: Path) -> None:
    result = _invoke("sandbox", "notify", "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert "not a sandbox directory" in result.output
    assert _invoke("sandbox", "notify", "--patient", "someone", "--dir", str(tmp_path)).exit_code == 2


def test_notify_reads_the_sandbox_directory_from_the_environment(sandbox: Sandbox) -> None:
    result = CliRunner(env={"TWIIN_SANDBOX_DIR": str(sandbox.dir)}).invoke(
        cli, ["sandbox", "notify", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["queries"] == 29


def test_notify_a_stopped_sandbox_is_a_usage_error(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "box"):
        pass  # the layout stays, nothing answers any more
    result = _invoke("sandbox", "notify", "--dir", str(tmp_path / "box"))
    assert result.exit_code == 2
    assert "no sandbox answers" in result.output


def test_notify_an_unreachable_external_gp_fails(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "box", external={"gp": f"https://127.0.0.1:{free_port()}/fhir"}) as box:
        result = _invoke("sandbox", "notify", "--dir", str(box.dir))
    assert result.exit_code == 1
    assert "could not notify the GP" in result.output


def test_the_whole_flow_from_the_command_line(tmp_path: Path) -> None:
    """``twiin sandbox --external gp=URL`` running; the vendor serves URL; ``notify``; the vendor pulls."""
    port, folder, ready = free_port(), tmp_path / "net", tmp_path / "ready.json"
    url = f"https://127.0.0.1:{port}/fhir"
    with running_sandbox("--dir", str(folder), "--external", f"gp={url}", ready=ready) as (process, info):
        assert info["external"] == {"gp": url}
        with vendor_gp(str(folder / "gp" / "node.toml"), port) as vendor:
            result = _invoke("sandbox", "notify", "--dir", str(folder))
            assert result.exit_code == 0, result.output
            assert f"at {url}: HTTP 201" in result.output
            pulled = vendor.node.notified_pull.pull(vendor.accepted[-1])
        out, err = stop(process)
    assert process.returncode == 0, err
    assert f"external gp          {url}" in out
    assert len(pulled.results) == 29
    assert not pulled.failures
    assert vendor.accepted[-1].task.patient == WITH_CONSENT
