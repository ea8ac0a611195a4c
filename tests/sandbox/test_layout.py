"""The files the sandbox writes: layout, sandbox.json, credentials and loadable node.toml files."""

from __future__ import annotations

import json
import stat

import attrs
import pytest
from cryptography import x509

from twiin.addressing import payload_types as pt
from twiin.auth.uzi import uzi_identity
from twiin.config import load_config
from twiin.consent import ConsentQuestion
from twiin.identifiers import RoleCode
from twiin.node import Node
from twiin.sandbox import GP, HOSPITAL, NO_CONSENT, PARTICIPANTS, WITH_CONSENT, Sandbox
from twiin.settings import NodeSettings

pytestmark = pytest.mark.e2e


def test_layout_and_sandbox_json(sandbox: Sandbox) -> None:
    info = json.loads((sandbox.dir / "sandbox.json").read_text())
    assert info == sandbox.info
    assert set(info["participants"]) == {"hospital", "gp", "placer"}
    assert info["patients"] == {"consent": "999999151", "no_consent": "999998456"}
    urls = [info["directory"], info["mitz"], info["placer"]]
    urls += [p[k] for p in info["participants"].values() for k in ("fhir_base", "token_url")]
    assert all(u.startswith("https://127.0.0.1:") for u in urls), urls
    assert info["directory"].endswith("/mcsd")
    assert len(x509.load_pem_x509_certificates((sandbox.dir / "ca.pem").read_bytes())) == 2
    key = (sandbox.dir / "audit-pseudonym.key").read_bytes().strip()
    assert len(bytes.fromhex(key.decode())) == 32
    for participant in PARTICIPANTS:
        folder = sandbox.dir / participant.key
        assert info["participants"][participant.key]["config"] == str(folder / "node.toml")
        assert stat.S_IMODE((folder / "key.pem").stat().st_mode) == 0o600
        identity = uzi_identity((folder / "cert.pem").read_bytes())
        assert identity.ura == participant.ura
        assert identity.uzi_number.value == participant.uzi_number
    for secret in ("audit-pseudonym.key", "control/key.pem"):
        assert stat.S_IMODE((sandbox.dir / secret).stat().st_mode) == 0o600, secret


@pytest.mark.parametrize("name", ["hospital", "gp", "placer"])
def test_node_toml_loads(sandbox: Sandbox, name: str) -> None:
    path = sandbox.config_path(name)
    config = load_config(path, environ={})
    entry = sandbox.info["participants"][name]
    assert config.participant.ura.value == entry["ura"]
    assert config.credentials is not None
    assert uzi_identity(config.credentials.certificate).ura == config.participant.ura
    assert config.trust is not None
    assert len(config.trust.certificates) == 2
    assert config.endpoints["directory"].base_url == sandbox.info["directory"]
    assert config.endpoints["mitz"].base_url == sandbox.info["mitz"]
    assert config.sections["server"] == {"fhir_base": entry["fhir_base"], "token_url": entry["token_url"]}
    settings = NodeSettings.parse(config, {})
    assert settings.addressing.kind == "live"
    assert settings.consent.kind == "mitz"
    assert settings.token.algorithm == "ES256"
    assert settings.audit.pseudonym_key == (sandbox.dir / "audit-pseudonym.key").read_bytes().strip()


def test_config_path_rejects_unknown_participants(sandbox: Sandbox) -> None:
    with pytest.raises(KeyError):
        sandbox.config_path("lab")


@pytest.mark.parametrize("name", ["hospital", "gp", "placer"])
def test_a_node_joins_the_network_with_the_written_config(sandbox: Sandbox, name: str) -> None:
    with Node.from_file(sandbox.config_path(name), environ={}) as node:
        assert node.ura.value == sandbox.info["participants"][name]["ura"]
        [bgz_server] = node.directory.resolve(HOSPITAL.ura, pt.BGZ_SERVER)
        assert bgz_server.address == sandbox.info["participants"]["hospital"]["fhir_base"]
        question = ConsentQuestion(
            patient=WITH_CONSENT, holder_ura=node.ura, holder_type=HOSPITAL.provider_type,
            requester_ura=GP.ura, requester_type=GP.provider_type, professional=node.professional(),
            role=RoleCode("01.015"),
        )  # fmt: skip
        assert node.consent.check(question).allowed()
        assert not node.consent.check(attrs.evolve(question, patient=NO_CONSENT)).allowed()
