"""``node.push`` and ``node.pull``: a node loaded from node.toml pushes to and pulls from a peer.

The peer is :class:`twiin.testing.push_pull.PushPullNetwork` on loopback mTLS (token endpoint,
R4 push receiver, STU3 BgZ server); our node (URA 11111111) has a TestPKI certificate, the
peer's address book and an in-memory local consent register.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.node_config import base_config, write_node
from twiin.consent import ConsentDecision, ConsentQuestion, LocalConsentRegister
from twiin.errors import ConfigurationError, ConsentDenied
from twiin.exchange.notified_pull import ConsentRequest
from twiin.fhir import BundleBuilder
from twiin.fhir_version import FhirVersion
from twiin.identifiers import ProviderType
from twiin.node import AsyncNode, Node
from twiin.testing.pki import TestPKI
from twiin.testing.push_pull import OTHER_PATIENT, PATIENT, PEER, PUSH_PAYLOAD, US, PushPullNetwork
from twiin.usecases import bgz

QUERIES = bgz.QUERIES[:5]


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI(key_type="ec256")


@pytest.fixture
def net(pki: TestPKI) -> Iterator[PushPullNetwork]:
    with PushPullNetwork(pki) as network:
        yield network


def _node_file(tmp_path: Path, net: PushPullNetwork, config: dict[str, Any] | None = None) -> Path:
    return write_node(tmp_path, net.pki, config or base_config(US.value), book=net.book)


@pytest.fixture
def node(tmp_path: Path, net: PushPullNetwork) -> Iterator[Node]:
    with Node.from_file(_node_file(tmp_path, net), environ={}) as loaded:
        yield loaded


def _transaction() -> tuple[BundleBuilder, str]:
    builder = BundleBuilder("transaction", FhirVersion.R4)
    patient = builder.create({"resourceType": "Patient", "identifier": [PATIENT.to_dict()]})
    builder.create({"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
                    "subject": {"reference": patient}})  # fmt: skip
    return builder, patient


def _audit(tmp_path: Path) -> str:
    return (tmp_path / "audit.jsonl").read_text()


def test_push_with_consent_lands_in_the_peers_store(node: Node, net: PushPullNetwork, tmp_path: Path) -> None:
    node.consent.record_consent(PATIENT)
    builder, patient_url = _transaction()
    receipt = node.push.send(PEER, builder, PUSH_PAYLOAD, patient=PATIENT)
    assert receipt.ok
    assert receipt.endpoint == net.server.url("fhir")
    assert [e.status for e in receipt.entries] == [201, 201]
    stored = net.push_store.search("Patient", [("identifier", PATIENT.to_token())])
    assert [p["id"] for p in stored] == [receipt.by_full_url(patient_url).id]
    assert net.refused == 0  # the node's certificate-bound token was accepted
    audit = _audit(tmp_path)
    assert '"push.send"' in audit
    assert PATIENT.value not in audit


def test_push_without_consent_sends_nothing(node: Node, net: PushPullNetwork, tmp_path: Path) -> None:
    with pytest.raises(ConsentDenied):
        node.push.send(PEER, _transaction()[0], PUSH_PAYLOAD, patient=OTHER_PATIENT)
    assert net.fhir_requests == 0
    assert net.push_store.all_current("Patient") == []
    assert '"denied"' in _audit(tmp_path)


def test_pull_with_a_permit_returns_the_patients_data(
    node: Node, net: PushPullNetwork, tmp_path: Path
) -> None:
    node.consent.record_consent(PATIENT)
    result = node.pull.query(PEER, PATIENT, QUERIES)
    assert result.ok, [(f.query.query, f.error) for f in result.failures]
    assert result.base_url == net.server.url("bgz")
    assert result.version is FhirVersion.STU3
    assert len(result.results) == len(QUERIES)
    assert {r["id"] for r in result.resources("Patient")} == {"p1"}
    assert '"pull.query"' in _audit(tmp_path)


def test_pull_on_deny_sends_nothing(node: Node, net: PushPullNetwork) -> None:
    node.consent.record_objection(PATIENT)
    result = node.pull.query(PEER, PATIENT, QUERIES)
    assert result.denied
    assert net.fhir_requests == 0
    with pytest.raises(ConsentDenied):
        result.raise_for_errors()


def test_push_and_pull_need_the_consent_settings(tmp_path: Path, net: PushPullNetwork) -> None:
    config = base_config(US.value)
    del config["consent"]["professional_role"]
    with Node.from_file(_node_file(tmp_path, net, config), environ={}) as node:
        node.consent.record_consent(PATIENT)
        with pytest.raises(ConfigurationError) as pushed:
            node.push.send(PEER, _transaction()[0], PUSH_PAYLOAD, patient=PATIENT)
        with pytest.raises(ConfigurationError) as pulled:
            node.pull.query(PEER, PATIENT, QUERIES)
    assert pushed.value.setting == pulled.value.setting == "consent.professional_role"
    assert net.fhir_requests == 0


def test_the_node_closes_the_push_and_pull_clients(node: Node) -> None:
    pusher, puller = node.push.pusher, node.pull.puller
    assert not pusher._client.is_closed
    node.close()
    assert pusher._client.is_closed
    assert puller._client.is_closed


class Recording:
    """A consent checker that records the questions it is asked."""

    def __init__(self, register: LocalConsentRegister) -> None:
        self.register = register
        self.questions: list[ConsentQuestion] = []

    def check(self, question: ConsentQuestion) -> ConsentDecision:
        self.questions.append(question)
        return self.register.check(question)


def test_a_direct_pull_asks_with_the_peer_as_holder(node: Node) -> None:
    recording = Recording(node.consent)
    request = ConsentRequest(patient=PATIENT, requester=US, holder=PEER, resource_type="Condition")
    node.consent_check_for(recording, requesting=True)(request)
    node.consent_check_for(recording)(request)
    pulling, holding = recording.questions
    ours, peers = ProviderType("V4"), ProviderType("Z3")  # participant.provider_type, requester_provider_type
    assert (pulling.holder_type, pulling.requester_type) == (peers, ours)
    assert (holding.holder_type, holding.requester_type) == (ours, peers)


@pytest.mark.anyio
async def test_async_node_pushes_and_pulls(tmp_path: Path, net: PushPullNetwork) -> None:
    async with AsyncNode.from_file(_node_file(tmp_path, net), environ={}) as node:
        node.sync_consent.record_consent(PATIENT)
        builder, patient_url = _transaction()
        receipt = await node.push.send(PEER, builder, PUSH_PAYLOAD, patient=PATIENT)
        assert net.push_store.current("Patient", receipt.by_full_url(patient_url).id) is not None
        result = await node.pull.query(PEER, PATIENT, QUERIES)
        assert result.ok, [(f.query.query, f.error) for f in result.failures]
        assert {r["id"] for r in result.resources("Patient")} == {"p1"}
        pusher = node.push.pusher
    assert pusher._client.is_closed


@pytest.mark.anyio
async def test_async_node_refuses_without_consent(tmp_path: Path, net: PushPullNetwork) -> None:
    async with AsyncNode.from_file(_node_file(tmp_path, net), environ={}) as node:
        with pytest.raises(ConsentDenied):
            await node.push.send(PEER, _transaction()[0], PUSH_PAYLOAD, patient=PATIENT)
        result = await node.pull.query(PEER, PATIENT, QUERIES)
    assert result.denied
    assert net.fhir_requests == 0
