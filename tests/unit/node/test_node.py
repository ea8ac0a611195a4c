"""What a loaded node composes: resolver, consent checker, auditor, FHIR clients, token flows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.node_config import base_config, write_node
from twiin._http import server_ssl_context
from twiin.addressing import DirectoryCache, LiveDirectory, StaticAddressBook
from twiin.auth import ClientCredentialsAuth, JwtBearerAuth
from twiin.consent import ConsentQuestion, LocalConsentRegister, MitzClient, ProfessionalId
from twiin.errors import ConfigurationError
from twiin.exchange.notified_pull import BGZ_SERVER_PAYLOAD, ConsentRequest
from twiin.fhir import AsyncFhirClient, FhirClient, FhirVersion
from twiin.identifiers import Bsn, ProviderType, RoleCode, Ura
from twiin.node import AsyncNode, Node
from twiin.serving import Answer, IncomingRequest
from twiin.testing.pki import IssuedCertificate, TestPKI
from twiin.testing.server import RunningServer, serve

PATIENT = Bsn("999999151")


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI(key_type="ec256")


@pytest.fixture(scope="module")
def server_cert(pki: TestPKI) -> IssuedCertificate:
    return pki.issue_server(ura="33333333", uzi_number="900000003", key_type="ec256")


@pytest.fixture(scope="module")
def fhir_server(pki: TestPKI, server_cert: IssuedCertificate) -> Iterator[RunningServer]:
    """An mTLS server answering every GET with a Patient naming the client's certificate presence."""

    def handler(request: IncomingRequest) -> Answer:
        peer = "mtls" if request.peer_certificate is not None else "none"
        return Answer.fhir(
            200, {"resourceType": "Patient", "id": "p1", "gender": "unknown", "language": peer}
        )

    with serve(handler, server_ssl_context(server_cert.credentials(), pki.trust_anchors)) as running:
        yield running


def _book(address: str) -> dict[str, Any]:
    return {"organization": [{"ura": "33333333", "name": "Peer", "endpoint": [
        {"address": address, "payload_types": [BGZ_SERVER_PAYLOAD.code], "fhir_version": "STU3"}]}]}  # fmt: skip


@pytest.fixture
def node(tmp_path: Path, pki: TestPKI, fhir_server: RunningServer) -> Iterator[Node]:
    with Node.from_file(write_node(tmp_path, pki, book=_book(fhir_server.url("fhir"))), environ={}) as loaded:
        yield loaded


def test_static_addressing_resolves_from_the_book(node: Node, fhir_server: RunningServer) -> None:
    assert isinstance(node.directory, StaticAddressBook)
    [found] = node.directory.resolve(Ura("33333333"), BGZ_SERVER_PAYLOAD)
    assert found.address == fhir_server.url("fhir")


def test_fhir_by_ura_goes_through_the_directory_over_mtls(node: Node) -> None:
    with node.fhir(Ura("33333333"), payload_type=BGZ_SERVER_PAYLOAD, raw=True) as client:
        assert isinstance(client, FhirClient)
        assert client.core.version is FhirVersion.STU3  # the endpoint's version from the book
        result = client.read("Patient", "p1")
    assert result.json["language"] == "mtls"


def test_fhir_by_url_with_explicit_version(node: Node, fhir_server: RunningServer) -> None:
    with node.fhir(fhir_server.url("fhir"), version=FhirVersion.R4, raw=True) as client:
        assert client.core.version is FhirVersion.R4
        assert client.read("Patient", "p1").json["id"] == "p1"


def test_fhir_by_ura_needs_a_payload_type(node: Node) -> None:
    with pytest.raises(ConfigurationError) as caught:
        node.fhir(Ura("33333333"))
    assert caught.value.setting == "payload_type"


def test_token_auth_picks_the_grant(node: Node) -> None:
    plain = node.token_auth("https://peer.example/token")
    assert isinstance(plain, ClientCredentialsAuth)
    assert plain.client_id == "11111111"
    bearer = node.token_auth("https://peer.example/token", authorization_base="base-1")
    assert isinstance(bearer, JwtBearerAuth)
    assert node.token_url_for(Ura("33333333"), "https://peer.example/fhir") == "https://peer.example/token"


def test_token_endpoint_overrides_per_ura(tmp_path: Path, pki: TestPKI) -> None:
    config = {**base_config(), "token": {"endpoints": {"33333333": "https://auth.example/oauth/token"}}}
    with Node.from_file(write_node(tmp_path, pki, config), environ={}) as node:
        assert node.token_url_for(Ura("33333333"), "https://x/fhir") == "https://auth.example/oauth/token"
        assert node.token_url_for(Ura("44444444"), "https://x/fhir") == "https://x/token"


def test_local_consent_register_answers_the_pull_guard(node: Node) -> None:
    assert isinstance(node.consent, LocalConsentRegister)
    check = node.consent_check_for(node.consent)
    request = ConsentRequest(
        patient=PATIENT, holder=node.ura, requester=Ura("22222222"), resource_type="Condition"
    )
    assert check(request) is False  # fail closed: no record
    node.consent.record_consent(PATIENT)
    assert check(request) is True


def test_consent_check_needs_the_question_settings(tmp_path: Path, pki: TestPKI) -> None:
    config = base_config()
    config["consent"] = {"kind": "local"}
    with Node.from_file(write_node(tmp_path, pki, config), environ={}) as node:
        with pytest.raises(ConfigurationError) as caught:
            node.consent_check_for(node.consent)
        assert caught.value.setting == "consent.requester_provider_type"


def test_mitz_consent_checker_is_built_from_the_endpoint(tmp_path: Path, pki: TestPKI) -> None:
    config = {
        **base_config(),
        "endpoints": {"mitz": {"base_url": "https://mitz.example/mitz"}},
        "consent": {**base_config()["consent"], "kind": "mitz", "endpoint": "mitz"},
    }
    with Node.from_file(write_node(tmp_path, pki, config), environ={}) as node:
        assert isinstance(node.consent, MitzClient)
        assert node.settings.consent.holder_provider_type == ProviderType("V4")


def test_live_and_cache_addressing(tmp_path: Path, pki: TestPKI) -> None:
    endpoints = {"directory": {"base_url": "https://dir.example/mcsd", "fhir_version": "R4"}}
    live = {**base_config(), "endpoints": endpoints, "addressing": {"kind": "live", "endpoint": "directory"}}
    with Node.from_file(write_node(tmp_path / "live", pki, live), environ={}) as node:
        assert isinstance(node.directory, LiveDirectory)
    cache = {**live, "addressing": {"kind": "cache", "endpoint": "directory", "cache_path": "dir.db"}}
    with Node.from_file(write_node(tmp_path / "cache", pki, cache), environ={}) as node:
        assert isinstance(node.directory, DirectoryCache)
    assert (tmp_path / "cache" / "dir.db").exists()


def test_auditor_writes_pseudonymised_json_lines(node: Node, tmp_path: Path) -> None:
    node.auditor.record("test.step", "success", patient=PATIENT, peer=Ura("22222222"))
    [line] = (tmp_path / "audit.jsonl").read_text().splitlines()
    event = json.loads(line)
    assert event["action"] == "test.step"
    assert event["actor_ura"] == "11111111"
    assert PATIENT.value not in line


def test_mitz_question_uses_the_configured_professional(node: Node) -> None:
    question = ConsentQuestion(
        patient=PATIENT, holder_ura=node.ura, holder_type=ProviderType("V4"), requester_ura=Ura("22222222"),
        requester_type=ProviderType("Z3"), professional=node.professional(), role=RoleCode("01.015"),
    )  # fmt: skip
    assert question.professional == ProfessionalId.uzi("900000002")


def test_close_is_idempotent(tmp_path: Path, pki: TestPKI) -> None:
    node = Node.from_file(write_node(tmp_path, pki), environ={})
    register = node.consent
    node.close()
    node.close()
    with pytest.raises(sqlite3.ProgrammingError):  # the register was closed with the node
        register.record_consent(PATIENT)


class _Broken:
    def close(self) -> None:
        raise OSError("cannot close")


def test_a_part_failing_to_close_leaves_no_other_part_open(tmp_path: Path, pki: TestPKI) -> None:
    node = Node.from_file(write_node(tmp_path, pki), environ={})
    register = node.consent
    node._own(_Broken())  # opened after the register, so closed before it
    with pytest.raises(OSError, match="cannot close"):
        node.close()
    with pytest.raises(sqlite3.ProgrammingError):
        register.record_consent(PATIENT)


@pytest.mark.anyio
async def test_async_node_closes_every_part_when_one_fails(tmp_path: Path, pki: TestPKI) -> None:
    node = AsyncNode.from_file(write_node(tmp_path, pki), environ={})
    register = node.sync_consent
    node._own(_Broken())
    with pytest.raises(OSError, match="cannot close"):
        await node.close()
    with pytest.raises(sqlite3.ProgrammingError):
        register.record_consent(PATIENT)


@pytest.mark.anyio
async def test_async_node_fhir_and_directory(
    tmp_path: Path, pki: TestPKI, fhir_server: RunningServer
) -> None:
    path = write_node(tmp_path, pki, book=_book(fhir_server.url("fhir")))
    async with AsyncNode.from_file(path, environ={}) as node:
        [found] = await node.directory.resolve(Ura("33333333"), BGZ_SERVER_PAYLOAD)
        assert found.address == fhir_server.url("fhir")
        client = await node.fhir(Ura("33333333"), payload_type=BGZ_SERVER_PAYLOAD, raw=True)
        assert isinstance(client, AsyncFhirClient)
        try:
            result = await client.read("Patient", "p1")
        finally:
            await client.close()
        assert result.json["language"] == "mtls"
        question = ConsentQuestion(
            patient=PATIENT, holder_ura=node.ura, holder_type=ProviderType("V4"), requester_ura=Ura("22222222"),
            requester_type=ProviderType("Z3"), professional=node.professional(), role=RoleCode("01.015"),
        )  # fmt: skip
        assert not (await node.consent.check(question)).allowed()


@pytest.mark.anyio
async def test_async_node_shares_the_local_register_with_the_pull_guard(tmp_path: Path, pki: TestPKI) -> None:
    async with AsyncNode.from_file(write_node(tmp_path, pki), environ={}) as node:
        check = node.consent_check_for(node.sync_consent)
        request = ConsentRequest(
            patient=PATIENT, holder=node.ura, requester=Ura("22222222"), resource_type="Condition"
        )
        assert check(request) is False
        node.sync_consent.record_consent(PATIENT)
        assert check(request) is True
        question = ConsentQuestion(
            patient=PATIENT, holder_ura=node.ura, holder_type=ProviderType("V4"), requester_ura=Ura("22222222"),
            requester_type=ProviderType("Z3"), professional=node.professional(), role=RoleCode("01.015"),
        )  # fmt: skip
        assert (await node.consent.check(question)).allowed()


def test_fhir_url_of_a_configured_endpoint_uses_its_settings(
    tmp_path: Path, pki: TestPKI, fhir_server: RunningServer
) -> None:
    base = fhir_server.url("fhir")
    config = {
        **base_config(),
        "endpoints": {"peer": {"base_url": base, "fhir_version": "STU3", "timeout": 7}},
    }
    with Node.from_file(write_node(tmp_path, pki, config), environ={}) as node:
        assert node.endpoint_for_url(base + "/Patient") is node.endpoint("peer")
        assert node.endpoint_for_url("https://elsewhere.example/fhir") is None
        with node.fhir(base, raw=True) as client:
            assert client.core.version is FhirVersion.STU3
            assert client.read("Patient", "p1").json["language"] == "mtls"
        assert node.client_options(base)["timeouts"].read == 7
