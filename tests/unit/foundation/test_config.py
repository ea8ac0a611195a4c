"""Configuration loading from TOML and environment, with errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from twiin.config import EndpointConfig, RetryPolicy, TwiinConfig, load_config
from twiin.credentials import Credentials
from twiin.errors import ConfigurationError
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura
from twiin.testing.pki import TestPKI


@pytest.fixture
def files(pki: TestPKI, tmp_path: Path) -> Path:
    issued = pki.issue_server(ura="1234")
    issued.write_pem(tmp_path, "node", password=b"pw")
    (tmp_path / "node.p12").write_bytes(issued.to_pkcs12(b"p12pw"))
    (tmp_path / "ca.pem").write_bytes(pki.ca_pem())
    (tmp_path / "pw.txt").write_text("pw\n")
    return tmp_path


def write(dir_: Path, text: str) -> Path:
    path = dir_ / "twiin.toml"
    path.write_text(text)
    return path


BASE = """
[participant]
ura = "1234"
name = "Ziekenhuis Test"
provider_type = "V4"

[credentials]
certificate = "node.pem"
key = "node.key"
password_file = "pw.txt"

[trust]
ca_bundle = "ca.pem"

[endpoints.directory]
base_url = "https://directory.test/fhir"
fhir_version = "r4"
timeout = 12
"""


def test_load_full_config(files: Path) -> None:
    config = load_config(write(files, BASE), environ={})
    assert config.participant.ura == Ura("00001234")
    assert config.participant.provider_type is not None
    assert isinstance(config.credentials, Credentials)
    assert config.trust is not None
    assert len(config.trust.certificates) == 1
    ep = config.endpoints["directory"]
    assert ep.fhir_version is FhirVersion.R4
    assert ep.timeouts.read == 12
    assert "PRIVATE" not in repr(config)


def test_pkcs12_with_password_from_env(files: Path) -> None:
    text = BASE.replace(
        'certificate = "node.pem"\nkey = "node.key"\npassword_file = "pw.txt"', 'pkcs12 = "node.p12"'
    )
    config = load_config(write(files, text), environ={"TWIIN_KEY_PASSWORD": "p12pw"})
    assert config.credentials is not None


def test_wrong_password_names_the_setting(files: Path) -> None:
    text = BASE.replace(
        'certificate = "node.pem"\nkey = "node.key"\npassword_file = "pw.txt"', 'pkcs12 = "node.p12"'
    )
    with pytest.raises(ConfigurationError) as info:
        load_config(write(files, text), environ={"TWIIN_KEY_PASSWORD": "hunter2-secret"})
    assert info.value.setting == "credentials.password"
    assert "hunter2" not in str(info.value)


def test_password_in_toml_is_refused(files: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_config(write(files, BASE.replace('password_file = "pw.txt"', 'password = "pw"')), environ={})
    assert info.value.setting == "credentials.password"


def test_missing_file_names_the_setting(files: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_config(write(files, BASE.replace("ca.pem", "missing.pem")), environ={})
    assert info.value.setting == "trust.ca_bundle"


def test_key_that_does_not_match(files: Path, pki: TestPKI) -> None:
    pki.issue_server(ura="9").write_pem(files, "other")
    text = BASE.replace('key = "node.key"\npassword_file = "pw.txt"', 'key = "other.key"')
    with pytest.raises(ConfigurationError, match="does not match") as info:
        load_config(write(files, text), environ={})
    assert info.value.setting == "credentials.key"


def test_bad_ura_and_plaintext_endpoint(files: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_config(write(files, BASE.replace('ura = "1234"', 'ura = "123456789"')), environ={})
    assert info.value.setting == "participant.ura"
    with pytest.raises(ConfigurationError) as info2:
        load_config(write(files, BASE.replace("https://directory", "http://directory")), environ={})
    assert info2.value.setting == "endpoints.directory.base_url"


def test_environment_overrides(files: Path) -> None:
    config = load_config(write(files, BASE), environ={"TWIIN_PARTICIPANT_URA": "77"})
    assert config.participant.ura == Ura("00000077")


def test_from_env_only(files: Path) -> None:
    env = {
        "TWIIN_PARTICIPANT_URA": "5",
        "TWIIN_CREDENTIALS_CERTIFICATE": str(files / "node.pem"),
        "TWIIN_CREDENTIALS_KEY": str(files / "node.key"),
        "TWIIN_KEY_PASSWORD": "pw",
    }
    config = TwiinConfig.from_env(env)
    assert config.participant.ura == Ura("5")
    assert config.credentials is not None


def test_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_config(write(tmp_path, "[participant\nura="), environ={})
    assert info.value.setting == "config"


def test_endpoint_config_values() -> None:
    assert EndpointConfig("http://127.0.0.1:8080/fhir", allow_plaintext=True).base_url.startswith("http:")
    assert RetryPolicy.disabled().max_attempts == 1
