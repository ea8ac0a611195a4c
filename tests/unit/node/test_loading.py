"""A node configuration that cannot work fails at load with a ConfigurationError naming the setting."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.node_config import base_config, write_node
from twiin.errors import ConfigurationError
from twiin.node import AsyncNode, Node
from twiin.testing.pki import TestPKI


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI(key_type="ec256")


def _setting(path: Path) -> str:
    with pytest.raises(ConfigurationError) as caught:
        Node.from_file(path, environ={})
    return caught.value.setting


def test_a_good_config_loads(tmp_path: Path, pki: TestPKI) -> None:
    with Node.from_file(write_node(tmp_path, pki), environ={}) as node:
        assert node.ura.value == "11111111"
        assert node.identity.ura == node.ura
        assert node.identity.uzi_number.value == "900000001"
        assert "PRIVATE" not in repr(node)
        assert "11111111" in repr(node)


def test_certificate_ura_differs_from_participant_ura(tmp_path: Path, pki: TestPKI) -> None:
    other = pki.issue_server(ura="22222222", key_type="ec256")
    path = write_node(tmp_path, pki, issued=other)
    with pytest.raises(ConfigurationError) as caught:
        Node.from_file(path, environ={})
    assert caught.value.setting == "participant.ura"
    assert "22222222" in caught.value.problem


def test_key_does_not_match_certificate(tmp_path: Path, pki: TestPKI) -> None:
    stranger = pki.issue_server(ura="11111111", key_type="ec256")
    assert _setting(write_node(tmp_path, pki, key_of=stranger)) == "credentials.key"


def test_missing_trust_anchors(tmp_path: Path, pki: TestPKI) -> None:
    config = base_config()
    del config["trust"]
    assert _setting(write_node(tmp_path, pki, config)) == "trust.ca_bundle"


def test_unreadable_trust_anchors(tmp_path: Path, pki: TestPKI) -> None:
    config = base_config()
    config["trust"] = {"ca_bundle": "nowhere/ca.pem"}
    assert _setting(write_node(tmp_path, pki, config)) == "trust.ca_bundle"


def test_trust_anchor_file_without_certificates(tmp_path: Path, pki: TestPKI) -> None:
    path = write_node(tmp_path, pki)
    (tmp_path / "ca.pem").write_text("not a certificate")
    assert _setting(path) == "trust.ca_bundle"


def test_missing_credentials(tmp_path: Path, pki: TestPKI) -> None:
    config = base_config()
    del config["credentials"]
    assert _setting(write_node(tmp_path, pki, config)) == "credentials"


@pytest.mark.parametrize(
    ("section", "setting"),
    [
        (
            {"endpoints": {"directory": {"base_url": "http://dir.example/fhir"}}},
            "endpoints.directory.base_url",
        ),
        ({"server": {"fhir_base": "http://node.example/fhir"}}, "server.fhir_base"),
        ({"server": {"token_url": "http://node.example/token"}}, "server.token_url"),
        ({"token": {"endpoints": {"22222222": "http://peer.example/token"}}}, "token.endpoints.22222222"),
    ],
)
def test_plaintext_urls_are_refused(
    tmp_path: Path, pki: TestPKI, section: dict[str, Any], setting: str
) -> None:
    config = {**base_config(), **section}
    assert _setting(write_node(tmp_path, pki, config)) == setting


def test_plaintext_is_allowed_when_explicit(tmp_path: Path, pki: TestPKI) -> None:
    config = {
        **base_config(),
        "endpoints": {"directory": {"base_url": "http://127.0.0.1:1/fhir", "allow_plaintext": True}},
        "server": {"fhir_base": "http://127.0.0.1:2/fhir", "allow_plaintext": True},
    }
    with Node.from_file(write_node(tmp_path, pki, config), environ={}) as node:
        assert node.settings.server.fhir_base == "http://127.0.0.1:2/fhir"
        assert node.endpoint("directory").allow_plaintext


def test_expired_certificate_is_an_error(tmp_path: Path, pki: TestPKI) -> None:
    now = datetime.now(UTC)
    old = pki.issue_server(
        ura="11111111",
        key_type="ec256",
        not_before=now - timedelta(days=400),
        not_after=now - timedelta(days=1),
    )
    path = write_node(tmp_path, pki, issued=old)
    with pytest.raises(ConfigurationError) as caught:
        Node.from_file(path, environ={})
    assert caught.value.setting == "credentials.certificate"
    assert "expired" in caught.value.problem


def test_not_yet_valid_certificate_is_an_error(tmp_path: Path, pki: TestPKI) -> None:
    now = datetime.now(UTC)
    early = pki.issue_server(ura="11111111", key_type="ec256", not_before=now + timedelta(days=2))
    assert _setting(write_node(tmp_path, pki, issued=early)) == "credentials.certificate"


def test_certificate_expiring_soon_only_warns(
    tmp_path: Path, pki: TestPKI, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    soon = pki.issue_server(ura="11111111", key_type="ec256", not_after=now + timedelta(days=5))
    with caplog.at_level(logging.WARNING, logger="twiin.node"):
        Node.from_file(write_node(tmp_path, pki, issued=soon), environ={}).close()
    assert any("expires" in r.getMessage() for r in caplog.records)


def test_certificate_without_uzi_identity(tmp_path: Path, pki: TestPKI) -> None:
    plain = pki.intermediate.issue(common_name="localhost", key_type="ec256")
    assert _setting(write_node(tmp_path, pki, issued=plain)) == "credentials.certificate"


def test_algorithm_that_does_not_fit_the_key(tmp_path: Path, pki: TestPKI) -> None:
    config = {**base_config(), "token": {"algorithm": "PS256"}}
    assert _setting(write_node(tmp_path, pki, config)) == "token.algorithm"


def test_mitz_needs_the_closed_question_settings(tmp_path: Path, pki: TestPKI) -> None:
    config = {
        **base_config(),
        "endpoints": {"mitz": {"base_url": "https://mitz.example"}},
        "consent": {"kind": "mitz", "endpoint": "mitz", "professional_role": "01.015"},
    }
    assert _setting(write_node(tmp_path, pki, config)) == "consent.professional_uzi"


def test_async_node_runs_the_same_checks(tmp_path: Path, pki: TestPKI) -> None:
    other = pki.issue_server(ura="22222222", key_type="ec256")
    with pytest.raises(ConfigurationError) as caught:
        AsyncNode.from_file(write_node(tmp_path, pki, issued=other), environ={})
    assert caught.value.setting == "participant.ura"


def test_encrypted_key_with_password_from_the_environment(tmp_path: Path, pki: TestPKI) -> None:
    issued = pki.issue_server(ura="11111111", key_type="ec256")
    config = base_config()
    config["credentials"] = {**config["credentials"], "password_env": "NODE_KEY_PASSWORD"}
    path = write_node(tmp_path, pki, config, issued=issued)
    (tmp_path / "key.pem").write_bytes(issued.key_pem(b"s3cret-pass"))
    with pytest.raises(ConfigurationError) as caught:
        Node.from_file(path, environ={})
    assert caught.value.setting == "credentials.password"
    with Node.from_file(path, environ={"NODE_KEY_PASSWORD": "s3cret-pass"}) as node:
        assert node.ura.value == "11111111"


def test_environment_overrides_participant(tmp_path: Path, pki: TestPKI) -> None:
    issued = pki.issue_server(ura="22222222", key_type="ec256")
    path = write_node(tmp_path, pki, issued=issued)  # the file says 11111111
    assert _setting(path) == "participant.ura"
    with Node.from_file(path, environ={"TWIIN_PARTICIPANT_URA": "22222222"}) as node:
        assert node.ura.value == "22222222"
