"""The node-backed commands against the running sandbox, as a vendor would use them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Invoke, as_json, run_module
from twiin.addressing import payload_types as pt
from twiin.sandbox import Sandbox

pytestmark = pytest.mark.e2e


def _config(box: Sandbox, name: str) -> str:
    return str(box.config_path(name))


def test_consent_check_on_the_sandbox_mitz(invoke: Invoke, sandbox: Sandbox) -> None:
    patients = sandbox.info["patients"]
    hospital = _config(sandbox, "hospital")
    permit = invoke("consent", "check", "--config", hospital, "--bsn", patients["consent"], "--json")
    assert permit.exit_code == 0, permit.output
    assert as_json(permit)["decision"] == "Permit"
    deny = invoke("consent", "check", "--config", hospital, "--bsn", patients["no_consent"])
    assert deny.exit_code == 1
    assert patients["no_consent"] not in deny.output


def test_resolve_and_token_for_the_gp(invoke: Invoke, sandbox: Sandbox) -> None:
    gp = sandbox.info["participants"]["gp"]
    hospital = _config(sandbox, "hospital")
    code = pt.TWIIN_TA_NOTIFICATION.code
    resolved = invoke("resolve", "--config", hospital, "--ura", gp["ura"], "--payload-type", code, "--json")
    assert resolved.exit_code == 0, resolved.output
    assert gp["fhir_base"] in [e["address"] for e in as_json(resolved)["endpoints"]]
    token = invoke("token", "--config", hospital, "--token-url", gp["token_url"], "--json")
    assert token.exit_code == 0, token.output
    assert as_json(token)["bound_to_our_certificate"] is True


def test_directory_sync_and_cert_inspect(sandbox: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "directory.sqlite"
    synced = run_module("directory", "sync", "--config", _config(sandbox, "gp"), "--db", str(db), "--json")
    assert synced.returncode == 0, synced.stderr
    assert '"ok": true' in synced.stdout
    inspected = run_module("cert", "inspect", "--json", str(sandbox.dir / "gp" / "cert.pem"))
    assert inspected.returncode == 0
    assert '"ura": "22222222"' in inspected.stdout
