"""``twiin doctor``: 0 when ready, 1 when a check fails, 2 when the config cannot be loaded."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.support.node_config import base_config, write_node
from twiin._http import server_ssl_context
from twiin.auth import AssertionSigner
from twiin.auth.server import AssertionPolicy, TokenEndpoint, TokenIssuer
from twiin.cli.main import cli
from twiin.serving import Answer, IncomingRequest
from twiin.testing.pki import IssuedCertificate, TestPKI
from twiin.testing.router import Router
from twiin.testing.server import RunningServer, serve


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI(key_type="ec256")


@pytest.fixture(scope="module")
def cert(pki: TestPKI) -> IssuedCertificate:
    return pki.issue_server(ura="11111111", key_type="ec256")


@pytest.fixture(scope="module")
def server(pki: TestPKI, cert: IssuedCertificate) -> Iterator[RunningServer]:
    """Our own FHIR base and token endpoint on loopback mTLS (twiin's server-side token blocks)."""
    blocks: dict[str, TokenEndpoint] = {}

    def token(request: IncomingRequest) -> Answer:
        return blocks["token"].handle(request)

    def fhir(request: IncomingRequest) -> Answer:
        return Answer.fhir(200, {"resourceType": "CapabilityStatement", "status": "active"})

    with serve(
        Router({"/token": token, "/fhir": fhir}), server_ssl_context(cert.credentials(), pki.trust_anchors)
    ) as running:
        url = running.url("token")
        policy = AssertionPolicy(audience=url, trust=pki.trust_anchors, check_revocation=False,
                                 intermediates=(pki.intermediate.certificate,))  # fmt: skip
        blocks["token"] = TokenEndpoint(issuer=TokenIssuer(AssertionSigner(cert.credentials()), issuer=url),
                                        policy=policy)  # fmt: skip
        yield running


def _doctor(path: Path, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["doctor", "--config", str(path), *extra])


def _served(server: RunningServer) -> dict[str, Any]:
    return {**base_config(), "server": {"fhir_base": server.url("fhir"), "token_url": server.url("token")}}


def test_ready_config_passes_with_tls_and_token(
    tmp_path: Path, pki: TestPKI, cert: IssuedCertificate, server: RunningServer
) -> None:
    result = _doctor(write_node(tmp_path, pki, _served(server), issued=cert), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    status = {c["name"]: c["status"] for c in report["checks"]}
    assert status["tls server.fhir_base"] == "ok"
    assert status["tls server.token_url"] == "ok"
    assert status["token server.token_url"] == "ok"
    assert report["ok"] is True
    token = next(c for c in report["checks"] if c["name"] == "token server.token_url")
    assert token["detail"].startswith("access token obtained")  # the token itself is never printed
    plateaus = {p["function"]: p["plateau"] for p in report["plateaus"]}
    assert plateaus == {"consent": 1, "addressing": 1, "authentication": 3, "authorization": 2}


def test_human_output_has_both_tables(
    tmp_path: Path, pki: TestPKI, cert: IssuedCertificate, server: RunningServer
) -> None:
    result = _doctor(write_node(tmp_path, pki, _served(server), issued=cert))
    assert result.exit_code == 0, result.output
    assert "CHECK" in result.output
    assert "PLATEAU" in result.output
    assert "ready" in result.output.splitlines()[-1]


def test_unreachable_token_endpoint_is_a_failed_check(
    tmp_path: Path, pki: TestPKI, cert: IssuedCertificate
) -> None:
    config = {**base_config(), "server": {"token_url": "https://127.0.0.1:9/token"}}
    result = _doctor(write_node(tmp_path, pki, config, issued=cert), "--json")
    assert result.exit_code == 1, result.output
    status = {c["name"]: c["status"] for c in json.loads(result.output)["checks"]}
    assert status["tls server.token_url"] == "fail"
    assert status["token server.token_url"] == "fail"


def test_untrusted_server_fails_the_handshake(tmp_path: Path, pki: TestPKI, server: RunningServer) -> None:
    rogue = TestPKI.rogue()
    config = {**_served(server), "trust": {"ca_bundle": "rogue.pem"}}
    path = write_node(tmp_path, pki, config)
    (tmp_path / "rogue.pem").write_bytes(rogue.ca_pem())
    result = _doctor(path, "--json")
    assert result.exit_code == 1
    status = {c["name"]: c["status"] for c in json.loads(result.output)["checks"]}
    assert status["chain"] == "fail"
    assert status["tls server.fhir_base"] == "fail"


def test_ura_mismatch_is_a_failed_check(tmp_path: Path, pki: TestPKI) -> None:
    other = pki.issue_server(ura="22222222", key_type="ec256")
    result = _doctor(write_node(tmp_path, pki, issued=other), "--json", "--offline")
    assert result.exit_code == 1
    status = {c["name"]: c["status"] for c in json.loads(result.output)["checks"]}
    assert status["ura"] == "fail"


def test_expired_certificate_is_a_failed_check(tmp_path: Path, pki: TestPKI) -> None:
    now = datetime.now(UTC)
    old = pki.issue_server(ura="11111111", key_type="ec256", not_before=now - timedelta(days=90),
                           not_after=now - timedelta(days=1))  # fmt: skip
    result = _doctor(write_node(tmp_path, pki, issued=old), "--offline")
    assert result.exit_code == 1
    assert "FAIL" in next(line for line in result.output.splitlines() if line.startswith("expiry"))


def test_broken_config_exits_2_naming_the_setting(tmp_path: Path, pki: TestPKI) -> None:
    stranger = pki.issue_server(ura="11111111", key_type="ec256")
    result = _doctor(write_node(tmp_path, pki, key_of=stranger))
    assert result.exit_code == 2
    assert "credentials.key" in result.output


def test_missing_file_exits_2(tmp_path: Path) -> None:
    assert _doctor(tmp_path / "absent.toml").exit_code == 2


def test_national_configuration_reaches_higher_plateaus(tmp_path: Path, pki: TestPKI) -> None:
    config = {
        **base_config(),
        "endpoints": {
            "directory": {"base_url": "https://dir.example/mcsd"},
            "mitz": {"base_url": "https://mitz.example/mitz"},
        },
        "addressing": {"kind": "cache", "endpoint": "directory", "cache_path": "dir.db"},
        "consent": {**base_config()["consent"], "kind": "mitz", "endpoint": "mitz", "subscriptions": True},
        "token": {"dpop": True},
        "server": {"token_url": "https://node.example/token"},
    }
    result = _doctor(write_node(tmp_path, pki, config), "--json", "--offline")
    assert result.exit_code == 0, result.output
    report = {p["function"]: p for p in json.loads(result.output)["plateaus"]}
    assert report["consent"]["plateau"] == 4
    assert report["addressing"]["plateau"] == 4
    assert report["authentication"]["plateau"] == 4
    assert report["authorization"]["plateau"] == 3
    assert "not offered" in report["authorization"]["next"]


def test_each_url_is_checked_at_its_own_tls_floor(
    tmp_path: Path, pki: TestPKI, cert: IssuedCertificate
) -> None:
    context = server_ssl_context(cert.credentials(), pki.trust_anchors, allow_tls12=True)
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # a peer that only speaks TLS 1.2

    def fhir(request: IncomingRequest) -> Answer:
        return Answer.fhir(200, {"resourceType": "CapabilityStatement", "status": "active"})

    with serve(Router({"/old": fhir, "/strict": fhir}), context) as old:
        config = {
            **base_config(),
            "endpoints": {
                "old": {"base_url": old.url("old"), "allow_tls12": True},
                "strict": {"base_url": old.url("strict")},  # TLS 1.3 required, as the node would
            },
        }
        result = _doctor(write_node(tmp_path, pki, config, issued=cert), "--json")
    status = {c["name"]: c["status"] for c in json.loads(result.output)["checks"]}
    assert status["tls endpoints.old"] == "ok"
    assert status["tls endpoints.strict"] == "fail"
    assert result.exit_code == 1
