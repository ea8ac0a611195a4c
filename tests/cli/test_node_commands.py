"""``twiin resolve``, ``directory sync``, ``consent check`` and ``token`` against a loopback mTLS peer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Invoke, as_json, run_module
from tests.cli.network import OTHER_PATIENT, PATIENT, RECEIVER, Peer, peer, write_our_node
from tests.support.node_config import base_config, write_node
from tests.unit.addressing.mcsd_fixtures import endpoint
from twiin.addressing import payload_types as pt
from twiin.testing.fake_mitz import Misbehaviour
from twiin.testing.pki import TestPKI

NOTIFY = pt.TWIIN_TA_NOTIFICATION.code
BGZ = pt.BGZ_SERVER.code


@pytest.fixture
def running(pki: TestPKI) -> Iterator[Peer]:
    with peer(pki) as started:
        yield started


@pytest.fixture
def config(running: Peer, pki: TestPKI, tmp_path: Path) -> Path:
    return write_our_node(tmp_path / "node", pki, running.base_url)


# -- resolve ----------------------------------------------------------------------------------


def test_resolve_live_directory(invoke: Invoke, running: Peer, config: Path) -> None:
    result = invoke(
        "resolve", "--config", str(config), "--ura", RECEIVER.value, "--payload-type", NOTIFY, "--json"
    )
    assert result.exit_code == 0, result.output
    found = as_json(result)["endpoints"]
    assert [e["address"] for e in found] == [running.url("fhir")]
    assert found[0]["organization"] == {"ura": RECEIVER.value, "name": "Sandbox GP"}


def test_resolve_takes_a_short_payload_type_name(invoke: Invoke, running: Peer, config: Path) -> None:
    result = invoke(
        "resolve", "--config", str(config), "--ura", RECEIVER.value,
        "--payload-type", "twiin-ta-notification", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert as_json(result)["payload_type"] == NOTIFY


def test_resolve_unknown_ura_exits_1(invoke: Invoke, config: Path) -> None:
    result = invoke("resolve", "--config", str(config), "--ura", "44444444", "--payload-type", NOTIFY)
    assert result.exit_code == 1
    assert "not found" in result.output


def test_resolve_bad_arguments_exit_2(invoke: Invoke, config: Path, tmp_path: Path) -> None:
    assert invoke("resolve", "--config", str(config), "--ura", "12x", "--payload-type", NOTIFY).exit_code == 2
    broken = tmp_path / "broken.toml"
    broken.write_text("[participant]\nura = 'nope'\n")
    result = invoke("resolve", "--config", str(broken), "--ura", RECEIVER.value, "--payload-type", NOTIFY)
    assert result.exit_code == 2
    assert "participant.ura" in result.stderr


def test_resolve_static_address_book(invoke: Invoke, pki: TestPKI, tmp_path: Path) -> None:
    book = {
        "organization": [
            {
                "ura": RECEIVER.value,
                "name": "Bilateral GP",
                "endpoint": [
                    {"address": "https://gp.example/fhir", "payload_types": [NOTIFY], "fhir_version": "STU3"}
                ],
            }
        ]
    }
    static = write_node(tmp_path / "static", pki, base_config(), book=book)
    result = invoke(
        "resolve", "--config", str(static), "--ura", RECEIVER.value, "--payload-type", NOTIFY, "--json"
    )
    assert result.exit_code == 0, result.output
    assert [(e["address"], e["fhir_version"]) for e in as_json(result)["endpoints"]] == [
        ("https://gp.example/fhir", "STU3")
    ]
    other = invoke("resolve", "--config", str(static), "--ura", RECEIVER.value, "--payload-type", BGZ)
    assert other.exit_code == 1


def test_resolve_subprocess(running: Peer, config: Path) -> None:
    done = run_module("resolve", "--config", str(config), "--ura", RECEIVER.value, "--payload-type", NOTIFY)
    assert done.returncode == 0, done.stderr
    assert running.url("fhir") in done.stdout


# -- directory sync ---------------------------------------------------------------------------------


def test_directory_sync_fills_the_cache_incrementally(
    invoke: Invoke, running: Peer, pki: TestPKI, tmp_path: Path
) -> None:
    cached = write_our_node(tmp_path / "cached", pki, running.base_url, addressing="cache")
    first = invoke("directory", "sync", "--config", str(cached), "--json")
    assert first.exit_code == 0, first.output
    report = as_json(first)
    assert report["ok"] is True
    assert report["created"] == 2  # the Organization and its Endpoint
    resolved = invoke("resolve", "--config", str(cached), "--ura", RECEIVER.value, "--payload-type", NOTIFY)
    assert resolved.exit_code == 0
    assert running.url("fhir") in resolved.output

    running.directory.put(endpoint("gp-notify", running.url("fhir2"), pt.TWIIN_TA_NOTIFICATION))
    second = as_json(invoke("directory", "sync", "--config", str(cached), "--json"))
    assert second["sources"][0]["mode"] == "history"
    assert (second["created"], second["updated"]) == (0, 1)
    resolved = invoke("resolve", "--config", str(cached), "--ura", RECEIVER.value, "--payload-type", NOTIFY)
    assert running.url("fhir2") in resolved.output


def test_directory_sync_human_report_and_db_option(invoke: Invoke, config: Path, tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite"
    result = invoke("directory", "sync", "--config", str(config), "--db", str(db))
    assert result.exit_code == 0, result.output
    assert db.exists()
    assert "2 created" in result.stdout
    assert "Endpoint" in result.stderr  # the progress bar's label names the resource type


def test_directory_sync_from_the_lrza_root(
    invoke: Invoke, running: Peer, pki: TestPKI, tmp_path: Path
) -> None:
    rooted = write_our_node(tmp_path / "root", pki, running.base_url, addressing="cache", directory="lrza")
    result = invoke("directory", "sync", "--config", str(rooted), "--root", "--json")
    assert result.exit_code == 0, result.output
    kinds = {s["kind"] for s in as_json(result)["sources"]}
    assert kinds == {"root", "provider"}
    resolved = invoke("resolve", "--config", str(rooted), "--ura", RECEIVER.value, "--payload-type", NOTIFY)
    assert resolved.exit_code == 0
    assert running.url("fhir") in resolved.output


def test_directory_sync_needs_a_db(invoke: Invoke, config: Path) -> None:
    result = invoke("directory", "sync", "--config", str(config))  # live addressing: no cache_path
    assert result.exit_code == 2
    assert "cache_path" in result.stderr


def test_directory_sync_unreachable_directory_exits_1(invoke: Invoke, pki: TestPKI, tmp_path: Path) -> None:
    with peer(pki) as stopped:
        gone = stopped.base_url
    cached = write_our_node(tmp_path / "gone", pki, gone, addressing="cache")
    result = invoke("directory", "sync", "--config", str(cached), "--json")
    assert result.exit_code == 1
    assert as_json(result)["ok"] is False


# -- consent check -------------------------------------------------------------------------------


def test_consent_permit(invoke: Invoke, running: Peer, config: Path) -> None:
    result = invoke("consent", "check", "--config", str(config), "--bsn", PATIENT.value, "--json")
    assert result.exit_code == 0, result.output
    data = as_json(result)
    assert data["decision"] == "Permit"
    assert data["categories"] == {"GGC002": "Permit"}
    assert data["patient"] == PATIENT.masked
    assert PATIENT.value not in result.output
    assert len(running.mitz.requests) == 1


def test_consent_deny_exits_1_and_masks_the_bsn(invoke: Invoke, config: Path) -> None:
    result = invoke(
        "consent", "check", "--config", str(config), "--bsn", OTHER_PATIENT.value, "--category", "GGC012"
    )
    assert result.exit_code == 1
    assert result.output.startswith("Deny for *****")
    assert OTHER_PATIENT.value not in result.output


def test_consent_fails_closed_when_mitz_misbehaves(invoke: Invoke, running: Peer, config: Path) -> None:
    running.mitz.misbehaviour = Misbehaviour.INDETERMINATE
    result = invoke("consent", "check", "--config", str(config), "--bsn", PATIENT.value, "--json")
    assert result.exit_code == 1
    data = as_json(result)
    assert (data["allowed"], data["decision"]) == (False, "Deny")
    assert "ConsentIndeterminate" in data["error"]
    assert PATIENT.value not in result.output


def test_consent_bad_input_exits_2_without_echoing_the_bsn(invoke: Invoke, config: Path) -> None:
    bad = invoke("consent", "check", "--config", str(config), "--bsn", "999999152")
    assert bad.exit_code == 2
    assert "999999152" not in bad.output
    assert (
        invoke(
            "consent", "check", "--config", str(config), "--bsn", PATIENT.value, "--category", "X"
        ).exit_code
        == 2
    )


def test_consent_bsn_from_stdin_in_a_subprocess(running: Peer, config: Path) -> None:
    done = run_module(
        "consent", "check", "--config", str(config), "--bsn", "-", input_text=PATIENT.value + "\n"
    )
    assert done.returncode == 0, done.stderr
    assert "Permit" in done.stdout
    assert PATIENT.value not in done.stdout + done.stderr


# -- token ----------------------------------------------------------------------------------------


def test_token_metadata_without_the_token(invoke: Invoke, running: Peer, config: Path) -> None:
    result = invoke("token", "--config", str(config), "--token-url", running.url("token"), "--json")
    assert result.exit_code == 0, result.output
    data = as_json(result)
    assert data["token_type"] == "Bearer"
    assert data["format"] == "jwt"
    assert data["bound_to_our_certificate"] is True
    assert data["claims_unverified"]["client_ura"] == "11111111"
    assert 0 < data["expires_in"] <= 3600
    assert "access_token" not in data
    assert "eyJ" not in result.output


def test_token_shown_only_on_request(invoke: Invoke, running: Peer, config: Path) -> None:
    result = invoke("token", "--config", str(config), "--token-url", running.url("token"), "--show-token")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("access_token:"))
    assert line.split()[-1].startswith("eyJ")


def test_token_refused_exits_1(invoke: Invoke, running: Peer, config: Path) -> None:
    result = invoke(
        "token",
        "--config",
        str(config),
        "--token-url",
        running.url("token"),
        "--authorization-base",
        "unknown-base",
    )
    assert result.exit_code == 1
    assert "unknown-base" not in result.output


def test_token_subprocess_json(running: Peer, config: Path) -> None:
    done = run_module("token", "--config", str(config), "--token-url", running.url("token"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cnf"]["x5t#S256"]


def test_directory_sync_unusable_db_exits_2(invoke: Invoke, config: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database " * 100)
    result = invoke("directory", "sync", "--config", str(config), "--db", str(junk))
    assert result.exit_code == 2
    assert "cannot use a local file" in result.stderr
    missing = invoke(
        "directory", "sync", "--config", str(config), "--db", str(tmp_path / "no" / "dir.sqlite")
    )
    assert missing.exit_code == 2


def test_consent_local_register_without_a_record_denies(invoke: Invoke, pki: TestPKI, tmp_path: Path) -> None:
    local = write_node(tmp_path / "local", pki, base_config())  # consent.kind = local, empty register
    result = invoke("consent", "check", "--config", str(local), "--bsn", PATIENT.value, "--json")
    assert result.exit_code == 1
    assert as_json(result)["decision"] == "Deny"


def test_consent_node_config_error_exits_2(invoke: Invoke, pki: TestPKI, tmp_path: Path) -> None:
    other = pki.issue_server(ura="99999999", key_type="ec256")  # not our participant.ura
    wrong = write_node(tmp_path / "wrong", pki, base_config(), issued=other)
    result = invoke("consent", "check", "--config", str(wrong), "--bsn", PATIENT.value)
    assert result.exit_code == 2
    assert "participant.ura" in result.stderr
    assert PATIENT.value not in result.output


def test_token_human_output_redacts_what_the_endpoint_put_in_the_claims(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from twiin.cli.token import _print_human

    summary = {
        "token_url": "https://peer.example/token", "token_type": "Bearer", "format": "jwt",
        "scope": None, "expires_in": 60, "expires_at": "2026-01-01T00:00:00+00:00", "cnf": None,
        "bound_to_our_certificate": False, "claims_unverified": {"sub": PATIENT.value},
    }  # fmt: skip
    _print_human(summary, None)
    out = capsys.readouterr().out
    assert "claim sub:" in out
    assert PATIENT.value not in out
