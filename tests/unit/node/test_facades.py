"""The TA Workflow and TA Notifications facades of a node, against an R4 FHIR store over mTLS."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.node_config import base_config, write_node
from twiin._http import client_ssl_context, server_ssl_context
from twiin._http.compat import httpx
from twiin.exchange.notifications import (
    AsyncSubscriptionClient,
    ReceivedEvent,
    SubscriptionClient,
    SubscriptionServerCore,
    build_subscription,
)
from twiin.exchange.workflow import AssignedId, AsyncFulfiller, AsyncPlacer, Invitation, service_request
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura
from twiin.node import AsyncNode, Node
from twiin.node.afacades import AsyncNotifications, AsyncNotifiedPull, AsyncWorkflow
from twiin.node.apush_pull import AsyncPull, AsyncPush
from twiin.node.facades import Notifications, NotifiedPull, Workflow
from twiin.node.push_pull import Pull, Push
from twiin.testing.fhir_store import FhirStoreServer, MemoryFhirStore
from twiin.testing.pki import TestPKI
from twiin.testing.server import RunningServer, serve

OWNER = AssignedId("https://gp.example.org/healthcareservice", "huisartsenzorg", Ura("22222222"))
WORK: dict[str, Any] = {"coding": [{"system": "http://snomed.info/sct", "code": "308292007"}]}


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI(key_type="ec256")


@pytest.fixture(scope="module")
def placer_server(pki: TestPKI) -> Iterator[RunningServer]:
    cert = pki.issue_server(ura="33333333", uzi_number="900000003", key_type="ec256")
    handler = FhirStoreServer(MemoryFhirStore(), FhirVersion.R4, base_path="/fhir")
    with serve(handler, server_ssl_context(cert.credentials(), pki.trust_anchors)) as running:
        yield running


def _node_config(ura: str) -> dict[str, Any]:
    config = base_config(ura)
    config["participant"]["provider_type"] = "Z3"
    return config


def _request(placer: Ura) -> dict[str, Any]:
    return service_request(
        patient="Patient/p1",
        instantiates="https://example.org/fhir/ActivityDefinition/transfer-of-care",
        code=WORK,
        authored_on=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        requester=placer,
        identifier_system="https://placer.example.org/servicerequest",
    )


def test_workflow_placer_and_fulfiller_over_mtls(
    tmp_path: Path, pki: TestPKI, placer_server: RunningServer
) -> None:
    base = placer_server.url("fhir")
    placer_path = write_node(tmp_path / "placer", pki, _node_config("33333333"))
    gp_path = write_node(tmp_path / "gp", pki, _node_config("22222222"))
    with (
        Node.from_file(placer_path, environ={}) as placer_node,
        Node.from_file(gp_path, environ={}) as gp_node,
    ):
        placer = placer_node.workflow.placer(base, identifier_system="https://placer.example.org/task")
        created = placer.create_request(_request(placer_node.ura), [Invitation(OWNER)], type_of_work=WORK)
        [task] = created.tasks
        fulfiller = gp_node.workflow.fulfiller(base, owner=OWNER)
        [mine] = fulfiller.tasks(status="requested")
        assert mine.id == task.id
        accepted = fulfiller.accept(mine)
        assert accepted.resource["status"] == "accepted"
    actions = (tmp_path / "gp" / "audit.jsonl").read_text()
    assert "workflow" in actions


def test_facade_clients_close_with_the_node(
    tmp_path: Path, pki: TestPKI, placer_server: RunningServer
) -> None:
    with Node.from_file(write_node(tmp_path, pki), environ={}) as node:
        client = node.notifications.subscriptions(placer_server.url("fhir"))
        assert isinstance(client, SubscriptionClient)
        assert client.base_url == placer_server.url("fhir")
        assert client.fhir.core.version is FhirVersion.R4
        placer = node.workflow.placer(placer_server.url("fhir"), identifier_system="https://p.example/task")
        assert not client.fhir._http.is_closed
    assert client.fhir._http.is_closed  # the node closed the clients its facades made
    assert placer._backend.client._http.is_closed


@pytest.mark.anyio
async def test_async_workflow_and_notifications(
    tmp_path: Path, pki: TestPKI, placer_server: RunningServer
) -> None:
    base = placer_server.url("fhir")
    async with AsyncNode.from_file(write_node(tmp_path, pki, _node_config("33333333")), environ={}) as node:
        placer = await node.workflow.placer(base, identifier_system="https://placer.example.org/task-async")
        assert isinstance(placer, AsyncPlacer)
        created = await placer.create_request(_request(node.ura), [Invitation(OWNER)], type_of_work=WORK)
        assert len(created.tasks) == 1
        fulfiller = await node.workflow.fulfiller(base, owner=OWNER)
        assert isinstance(fulfiller, AsyncFulfiller)
        subscriptions = await node.notifications.subscriptions(base)
        assert isinstance(subscriptions, AsyncSubscriptionClient)
    assert subscriptions.fhir._http.is_closed


def test_a_node_hosts_its_rest_hook_over_mtls(
    tmp_path: Path, pki: TestPKI, placer_server: RunningServer
) -> None:
    base = placer_server.url("fhir")
    holder = SubscriptionServerCore(base)
    got: list[ReceivedEvent] = []
    with Node.from_file(write_node(tmp_path, pki, _node_config("22222222")), environ={}) as node:
        hook = node.notifications.receiver(got.append, node.notifications.subscriptions(base))
        with serve(hook.handle, node.server_ssl_context()) as server:
            record = holder.subscribe(
                build_subscription(topic="https://placer.example.org/topic", endpoint=server.url("hook")),
                datetime.now(UTC),
            )
            (handshake,) = holder.take_pending()
            headers = {"content-type": "application/fhir+json"}
            placer = pki.issue_server(ura="33333333", key_type="ec256").credentials()
            with httpx.Client(verify=client_ssl_context(placer, pki.trust_anchors)) as http:
                answer = http.post(server.url("hook"), content=handshake.body, headers=headers)
            with (  # no client certificate: the TLS handshake fails
                httpx.Client(verify=client_ssl_context(None, pki.trust_anchors)) as anonymous,
                pytest.raises(httpx.TransportError),
            ):
                anonymous.post(server.url("hook"), content=handshake.body, headers=headers)
    assert answer.status_code == 200  # the handshake registered the Subscription at this holder
    assert hook.core.progress(record.url).status == "active"


@pytest.mark.anyio
async def test_the_async_rest_hook_accepts_handshakes_from_its_holder(tmp_path: Path, pki: TestPKI) -> None:
    base = "https://placer.example.org/fhir"
    async with AsyncNode.from_file(write_node(tmp_path, pki), environ={}) as node:

        async def ignore(event: ReceivedEvent) -> None:
            return None

        hook = node.notifications.receiver(ignore, await node.notifications.subscriptions(base))
        alone = node.notifications.receiver(ignore)
    assert hook.core.holders == (f"{base}/Subscription/",)
    assert alone.core.holders == ()


def _public(cls: type) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("_")}


@pytest.mark.parametrize(
    ("sync", "async_"),
    [
        (Node, AsyncNode),
        (NotifiedPull, AsyncNotifiedPull),
        (Notifications, AsyncNotifications),
        (Workflow, AsyncWorkflow),
        (Push, AsyncPush),
        (Pull, AsyncPull),
    ],
)
def test_sync_and_async_expose_the_same_methods(sync: type, async_: type) -> None:
    extra = {"sync_directory", "sync_consent"}  # AsyncNode's sync parts for the Notified Pull cores
    assert _public(sync) - extra == _public(async_) - extra
    for name in _public(async_):
        member = vars(async_)[name]
        if inspect.iscoroutinefunction(member):
            assert callable(vars(sync)[name])


def _cannot_close() -> None:
    raise OSError("cannot close")


def test_notified_pull_closes_the_puller_when_the_sender_fails_to(
    tmp_path: Path, pki: TestPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = Node.from_file(write_node(tmp_path, pki), environ={})
    sender, puller = node.notified_pull.sender, node.notified_pull.puller
    monkeypatch.setattr(sender, "close", _cannot_close)
    with pytest.raises(OSError, match="cannot close"):
        node.close()
    assert puller._client.is_closed
    monkeypatch.undo()
    sender.close()


@pytest.mark.anyio
async def test_async_notified_pull_closes_the_puller_when_the_sender_fails_to(
    tmp_path: Path, pki: TestPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = AsyncNode.from_file(write_node(tmp_path, pki), environ={})
    sender, puller = node.notified_pull.sender, node.notified_pull.puller

    async def cannot_close() -> None:
        _cannot_close()

    monkeypatch.setattr(sender, "close", cannot_close)
    with pytest.raises(OSError, match="cannot close"):
        await node.close()
    assert puller._client.is_closed
    monkeypatch.undo()
    await sender.close()
