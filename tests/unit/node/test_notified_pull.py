"""Two nodes loaded from node.toml files run a BgZ Notified Pull over loopback mTLS.

The hospital node serves its token endpoint and pull guard from ``node.notified_pull.server``;
the GP node serves its Task endpoint with ``node.notified_pull.accept``. Both resolve each other
through the configured static address book; token endpoints follow the ``token.path`` convention.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.support.node_config import base_config, write_node
from twiin._http import server_ssl_context
from twiin.exchange.notified_pull import BGZ_SERVER_PAYLOAD, NOTIFICATION_PAYLOAD, Notification
from twiin.fhir_version import FhirVersion
from twiin.node import AsyncNode, Node, load_node_config
from twiin.serving import Answer, IncomingRequest
from twiin.testing.bgz_data import patient_store, seed_bgz
from twiin.testing.fhir_store import FhirStoreServer, MemoryFhirStore
from twiin.testing.notified_pull import OTHER_PATIENT, PATIENT, RECEIVER
from twiin.testing.pki import TestPKI
from twiin.testing.router import Router
from twiin.testing.server import serve
from twiin.usecases import bgz

QUERIES = bgz.QUERIES[:4]


@attrs.define
class Pair:
    hospital_dir: Path
    gp_dir: Path
    accepted: list[Notification]
    handlers: dict[str, Any]


def _book(gp_url: str, hospital_url: str) -> dict[str, Any]:
    return {"organization": [
        {"ura": "22222222", "name": "GP", "endpoint": [
            {"address": gp_url, "payload_types": [NOTIFICATION_PAYLOAD.code]}]},
        {"ura": "11111111", "name": "Hospital", "endpoint": [
            {"address": hospital_url, "payload_types": [BGZ_SERVER_PAYLOAD.code], "fhir_version": "STU3"}]},
    ]}  # fmt: skip


def _config(ura: str, base: str) -> dict[str, Any]:
    config = base_config(ura)
    config["server"] = {"fhir_base": f"{base}/fhir", "token_url": f"{base}/token"}
    config["addressing"]["allow_http"] = False
    return config


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    pki = TestPKI(key_type="ec256")
    hospital_cert = pki.issue_server(ura="11111111", uzi_number="900000001", key_type="ec256")
    gp_cert = pki.issue_server(ura="22222222", uzi_number="900000002", key_type="ec256")
    handlers: dict[str, Any] = {}

    def route(name: str) -> Any:
        def late(request: IncomingRequest) -> Answer:
            return handlers[name](request)  # type: ignore[no-any-return]

        return late

    with ExitStack() as stack:
        hospital = stack.enter_context(serve(
            Router({"/fhir": route("h-fhir"), "/token": route("h-token")}),
            server_ssl_context(hospital_cert.credentials(), pki.trust_anchors),
        ))  # fmt: skip
        gp = stack.enter_context(serve(
            Router({"/fhir": route("g-fhir"), "/token": route("g-token")}),
            server_ssl_context(gp_cert.credentials(), pki.trust_anchors),
        ))  # fmt: skip
        book = _book(gp.url("fhir"), hospital.url("fhir"))
        root = tmp_path_factory.mktemp("nodes")
        hospital_dir, gp_dir = root / "hospital", root / "gp"
        write_node(hospital_dir, pki, _config("11111111", hospital.base_url), issued=hospital_cert, book=book)
        write_node(gp_dir, pki, _config("22222222", gp.base_url), issued=gp_cert, book=book)
        yield Pair(hospital_dir, gp_dir, [], handlers)


@pytest.fixture
def nodes(pair: Pair) -> Iterator[tuple[Node, Node]]:
    with (
        Node.from_file(pair.hospital_dir / "node.toml", environ={}) as hospital,
        Node.from_file(pair.gp_dir / "node.toml", environ={}) as gp,
    ):
        store = MemoryFhirStore()
        seed_bgz(store, PATIENT, "p1")
        seed_bgz(store, OTHER_PATIENT, "p2")
        hospital.consent.record_consent(PATIENT)
        blocks = hospital.notified_pull.server
        guard = blocks.pull_server(
            patient_store(FhirStoreServer(store, FhirVersion.STU3, base_path="/fhir")),
            hospital.consent_check_for(hospital.consent),
        )
        pair.handlers["h-fhir"] = guard.serve_pull
        pair.handlers["h-token"] = blocks.token_endpoint(check_revocation=False).handle
        pair.handlers["g-token"] = gp.notified_pull.server.token_endpoint(check_revocation=False).handle

        def task_endpoint(request: IncomingRequest) -> Answer:
            notification, answer = gp.notified_pull.accept(request)
            if notification is not None:
                pair.accepted.append(notification)
            return answer

        pair.handlers["g-fhir"] = task_endpoint
        pair.accepted.clear()
        yield hospital, gp


def test_notify_accept_and_pull(nodes: tuple[Node, Node], pair: Pair) -> None:
    hospital, gp = nodes
    receipt = hospital.notified_pull.notify(RECEIVER, PATIENT, QUERIES)
    assert receipt.status == 201
    [notification] = pair.accepted
    assert notification.sender == hospital.ura
    result = gp.notified_pull.pull(notification)
    assert result.ok, [(r.step.target, r.error) for r in result.failures]
    assert len(result.results) == len(QUERIES)
    assert result.resources(), "the pull returned no resources"
    actions = [json.loads(line)["action"] for line in (pair.gp_dir / "audit.jsonl").read_text().splitlines()]
    assert "notified-pull.pull" in actions


def test_pull_without_consent_is_refused(nodes: tuple[Node, Node], pair: Pair) -> None:
    hospital, gp = nodes
    hospital.notified_pull.notify(RECEIVER, OTHER_PATIENT, QUERIES[:1])
    result = gp.notified_pull.pull(pair.accepted[-1])
    assert not result.ok
    assert all(r.error is not None for r in result.results)


def test_cancel_reaches_the_receiver(nodes: tuple[Node, Node], pair: Pair) -> None:
    hospital, _ = nodes
    receipt = hospital.notified_pull.notify(RECEIVER, PATIENT, QUERIES[:1])
    assert hospital.notified_pull.cancel(receipt) in (200, 201)
    assert pair.accepted[-1].cancelled


@pytest.mark.anyio
async def test_async_node_notify_and_pull(pair: Pair, nodes: tuple[Node, Node]) -> None:
    hospital_config = load_node_config(pair.hospital_dir / "node.toml", {})
    gp_config = load_node_config(pair.gp_dir / "node.toml", {})
    async with AsyncNode(*hospital_config) as hospital, AsyncNode(*gp_config) as gp:
        # the running servers serve the sync hospital node's blocks: issue into its store
        hospital.notified_pull.server.bases = nodes[0].notified_pull.server.bases
        receipt = await hospital.notified_pull.notify(RECEIVER, PATIENT, QUERIES[:2])
        assert receipt.status == 201
        result = await gp.notified_pull.pull(pair.accepted[-1])
        assert result.ok, [(r.step.target, r.error) for r in result.failures]
        assert len(result.results) == 2


def test_no_bsn_or_token_in_debug_logs(
    nodes: tuple[Node, Node], pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    hospital, gp = nodes
    with caplog.at_level(logging.DEBUG, logger="twiin"):
        hospital.notified_pull.notify(RECEIVER, PATIENT, QUERIES[:2])
        assert gp.notified_pull.pull(pair.accepted[-1]).ok
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records, "expected debug logging from the exchange"
    assert PATIENT.value not in text
    assert "eyJ" not in text  # no JWT (access token or assertion)
