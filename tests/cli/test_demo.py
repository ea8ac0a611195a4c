"""``twiin demo``: a complete BgZ Notified Pull on the sandbox, and a pull that must be refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import twiin.cli.demo as demo_command
from twiin.cli.main import cli
from twiin.sandbox.demo import run_demo
from twiin.testing.notified_pull import OTHER_PATIENT, PATIENT, NotifiedPullNetwork

pytestmark = pytest.mark.e2e

SRC = Path(__file__).resolve().parents[2] / "src"


def _twiin(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "twiin", *args], check=False, capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip


def test_demo_json_summary(tmp_path):
    result = _twiin("demo", "--json", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert summary["queries"] == 29
    assert summary["resources"] > 0
    assert summary["failures"] == []
    steps = {s["name"]: s for s in summary["steps"]}
    assert [s["name"] for s in summary["steps"]] == [
        "directory lookup", "consent check", "authorization base", "token", "notification",
        "receiver accepts", "token with authorization base", "pull", "no-consent pull refused",
        "audit trail",
    ]  # fmt: skip
    assert all(s["ok"] for s in summary["steps"])
    assert "29 of 29 queries refused with 403, 0 resources" in steps["no-consent pull refused"]["detail"]
    assert len(summary["pulled"]) == 29
    assert len(summary["audit"]) == 2  # hospital and gp: the loop below must not pass on nothing
    for path in summary["audit"]:
        trail = Path(path).read_text(encoding="utf-8")
        assert Path(path).is_relative_to(tmp_path)
        assert "notified-pull.serve" in trail or "notified-pull.query" in trail
        assert PATIENT.value not in trail
        assert OTHER_PATIENT.value not in trail
    assert PATIENT.value not in result.stdout
    assert OTHER_PATIENT.value not in result.stdout


def test_demo_human_output_masks_patients(tmp_path):
    result = _twiin("demo", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "[ok  ] pull: 29 of 29 BgZ queries" in out
    assert "Laboratory test" in out
    assert "MedicationStatement" in out
    assert PATIENT.masked in out
    assert PATIENT.value not in out
    assert OTHER_PATIENT.value not in out
    assert "eyJ" not in out, "a token was printed"


def test_demo_fails_when_the_no_consent_pull_is_not_refused(tmp_path):
    steps = []
    with NotifiedPullNetwork() as net:
        net.consent.record_consent(OTHER_PATIENT)
        report = run_demo(net, tmp_path, on_step=lambda step, _: steps.append(step.name))
    assert not report.ok
    assert report.summary()["ok"] is False
    refused = report.steps[-1]
    assert refused.name == "no-consent pull refused"
    assert not refused.ok
    assert "consent Permit" in refused.detail
    assert steps[-1] == "no-consent pull refused"


def test_demo_stops_when_consent_is_missing(tmp_path):
    with NotifiedPullNetwork() as net:
        net.consent.record_objection(PATIENT)
        report = run_demo(net, tmp_path)
    assert not report.ok
    assert [s.name for s in report.steps] == ["directory lookup", "consent check"]
    assert report.pulled == []


def test_demo_exits_1_when_a_step_misbehaves(tmp_path, monkeypatch):
    def permissive_network(directory):
        net = NotifiedPullNetwork()
        net.consent.record_consent(OTHER_PATIENT)  # the "no consent" patient now has consent
        return net

    monkeypatch.setattr(demo_command, "start_network", permissive_network)
    result = CliRunner().invoke(cli, ["demo", "--json", "--dir", str(tmp_path)])
    assert result.exit_code == 1, result.output
    summary = json.loads(result.output)
    assert summary["ok"] is False
    assert summary["queries"] == 29
    assert summary["steps"][-1]["name"] == "no-consent pull refused"
    assert summary["steps"][-1]["ok"] is False
