"""``twiin cert inspect`` on TestPKI certificates (PEM, DER, PKCS#12) and the public UZI vectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.cli.conftest import Invoke, as_json, run_module
from twiin.testing.pki import IssuedCertificate, TestPKI

VECTORS = Path("/work/shared/vectors/uzi")


@pytest.fixture(scope="module")
def server_cert(pki: TestPKI) -> IssuedCertificate:
    return pki.issue_server(ura="11111111", uzi_number="900000001", role="01.015", organization="Hospital")


def test_pem_shows_the_uzi_identity(invoke: Invoke, server_cert: IssuedCertificate, tmp_path: Path) -> None:
    cert_path, _ = server_cert.write_pem(tmp_path, "hospital")
    result = invoke("cert", "inspect", "--json", str(cert_path))
    assert result.exit_code == 0, result.output
    data = as_json(result)
    assert data["ura"] == "11111111"
    assert data["uzi_number"] == "900000001"
    assert data["card_type"] == "S"
    assert data["role"] == "01.015"
    assert data["subject"]["organization"] == "Hospital"
    assert data["validity"] == "valid"
    assert data["expired"] is False
    assert data["x5t#S256"] == server_cert.credentials().thumbprint
    assert "PRIVATE KEY" not in result.output


def test_der_human_output(invoke: Invoke, server_cert: IssuedCertificate, tmp_path: Path) -> None:
    der = tmp_path / "cert.der"
    der.write_bytes(server_cert.certificate.public_bytes(serialization.Encoding.DER))
    result = invoke("cert", "inspect", str(der))
    assert result.exit_code == 0
    assert "URA:         11111111" in result.output
    assert "validity:    valid" in result.output


def test_pkcs12_with_password_file(invoke: Invoke, server_cert: IssuedCertificate, tmp_path: Path) -> None:
    p12 = tmp_path / "cert.p12"
    p12.write_bytes(server_cert.to_pkcs12(b"s3cret"))
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    ok = invoke("cert", "inspect", "--json", "--password-file", str(password), str(p12))
    assert ok.exit_code == 0
    assert as_json(ok)["ura"] == "11111111"
    password.write_text("wrong\n")
    wrong = invoke("cert", "inspect", "--password-file", str(password), str(p12))
    assert wrong.exit_code == 1
    assert "s3cret" not in wrong.output


def test_certificate_without_uzi_identity_exits_1(invoke: Invoke, pki: TestPKI, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.ca_pem())
    result = invoke("cert", "inspect", "--json", str(ca))
    assert result.exit_code == 1
    data = as_json(result)
    assert data["uzi"] is False
    assert "subjectAltName" in data["error"]


def test_expired_certificate(invoke: Invoke, pki: TestPKI, tmp_path: Path) -> None:
    start = datetime.now(UTC) - timedelta(days=30)
    old = pki.issue_server(ura="22222222", not_before=start, not_after=start + timedelta(days=1))
    cert_path, _ = old.write_pem(tmp_path, "old")
    shown = invoke("cert", "inspect", "--json", str(cert_path))
    assert shown.exit_code == 0
    assert as_json(shown)["expired"] is True
    assert invoke("cert", "inspect", "--require-valid", str(cert_path)).exit_code == 1


def test_missing_file_is_a_usage_error(invoke: Invoke, tmp_path: Path) -> None:
    assert invoke("cert", "inspect", str(tmp_path / "absent.pem")).exit_code == 2


def test_subprocess_python_m_twiin(server_cert: IssuedCertificate, tmp_path: Path) -> None:
    cert_path, _ = server_cert.write_pem(tmp_path, "hospital")
    done = run_module("cert", "inspect", "--json", str(cert_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["uzi_number"] == "900000001"


@pytest.mark.skipif(not VECTORS.is_dir(), reason="public UZI vectors not present")
def test_public_uzi_vectors(invoke: Invoke) -> None:
    expected = json.loads((VECTORS / "expected.json").read_text())["testdata-valid_chain.pem"]
    leaf = invoke("cert", "inspect", "--json", str(VECTORS / "testdata-valid_chain.pem"))
    assert leaf.exit_code == 0
    data = as_json(leaf)
    assert data["ura"].lstrip("0") == expected["ura"]
    assert data["uzi_number"] == expected["uzi"]
    assert (data["agb"], data["card_type"], data["role"]) == (
        expected["agb"],
        expected["pastype"],
        expected["role"],
    )
    assert data["ca_oid"] == expected["ca_oid"]
    assert data["expired"] is True
    assert invoke("cert", "inspect", str(VECTORS / "test_ca-ca.pem")).exit_code == 1
