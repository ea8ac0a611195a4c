"""Every example script runs to completion; the sandbox examples run against a live sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from twiin.sandbox import NO_CONSENT, WITH_CONSENT, Sandbox

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# example -> lines its output must contain when run against the sandbox
SANDBOX_EXAMPLES: dict[str, list[str]] = {
    "certificate_identity.py": [
        "organisation (URA): 11111111 - configured: 11111111",
        "UZI number: 900000001 card type: S",
        "rogue certificate refused: certificate chain is not valid",
    ],
    "resolve.py": ["gp notification endpoint: https://127.0.0.1:", "hospital BgZ endpoint: https://127.0.0.1:",
                   "unknown organisation: EndpointNotFound", "placer FHIR base: https://127.0.0.1:"],
    "consent.py": [
        f"patient {WITH_CONSENT.masked}: {{'GGC002': 'Permit', 'GGC013': 'Permit'}} -> allowed: True",
        f"patient {NO_CONSENT.masked}: {{'GGC002': 'Deny', 'GGC013': 'Deny'}} -> allowed: False",
    ],
    "access_token.py": ["token requests: 1", "JWT-bearer grant with an unknown authorization base: invalid_grant"],
    "bgz_sender.py": ["notified 22222222 at https://127.0.0.1:", ": HTTP 201", "29 queries", "cancelled: 200"],
    "workflow_fulfiller.py": ["new Task: ", "version 1 focus ServiceRequest/", "done: completed version 4"],
    "subscription_client.py": ["status requested", "read back: https://gp.example.org/fhir/notifications",
                               "retired: off"],
}  # fmt: skip


def _run(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        check=False, capture_output=True, text=True, timeout=120, env=environment,
    )  # fmt: skip


def test_identifiers_example_runs() -> None:
    result = _run("identifiers.py")
    assert result.returncode == 0, result.stderr
    assert "999999151" not in result.stdout
    assert "rejected: invalid BSN" in result.stdout


def test_every_example_is_tested() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    assert scripts == {"identifiers.py", "bgz_receiver.py", "push_pull.py", *SANDBOX_EXAMPLES}


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(SANDBOX_EXAMPLES))
def test_sandbox_example_runs(sandbox: Sandbox, name: str) -> None:
    result = _run(name, str(sandbox.dir))
    assert result.returncode == 0, result.stderr
    for expected in SANDBOX_EXAMPLES[name]:
        assert expected in result.stdout, (expected, result.stdout)
    assert WITH_CONSENT.value not in result.stdout
    assert NO_CONSENT.value not in result.stdout


@pytest.mark.e2e
def test_bgz_receiver_pulls_everything_from_its_own_sandbox() -> None:
    result = _run("bgz_receiver.py")
    assert result.returncode == 0, result.stderr
    assert f"notification from 11111111: patient {WITH_CONSENT.masked}, 29 queries" in result.stdout
    assert "pulled 93 resources, 0 failures" in result.stdout
    assert "conditions: 60 (across pages)" in result.stdout
    assert "failed" not in result.stdout
    assert WITH_CONSENT.value not in result.stdout


@pytest.mark.e2e
def test_sandbox_example_reads_the_environment(sandbox: Sandbox) -> None:
    result = _run("resolve.py", env={"TWIIN_SANDBOX_DIR": str(sandbox.dir)})
    assert result.returncode == 0, result.stderr
    assert "gp notification endpoint" in result.stdout


def test_sandbox_example_without_a_sandbox_says_how_to_run_it(tmp_path: Path) -> None:
    result = _run("resolve.py", str(tmp_path), env={"TWIIN_SANDBOX_DIR": ""})
    assert result.returncode != 0
    assert "usage: python" in result.stderr
    assert "SANDBOX_DIR" in result.stderr


@pytest.mark.e2e
def test_push_pull_example_runs_against_its_own_peer() -> None:
    result = _run("push_pull.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("push: HTTP 200, entries [201, 201]")
    assert lines[1].startswith("pull: 29 queries, ok=True")
    assert "60 conditions" in lines[1]
    assert lines[2] == "pull without consent: denied=True, requests sent: 0"
    assert "999999151" not in result.stdout
