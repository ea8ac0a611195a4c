"""The sandbox's R4 placer over mTLS: a TA Workflow round trip, and Task writes vetted per certificate."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from twiin._http import client_ssl_context, server_ssl_context
from twiin.credentials import Credentials, TrustAnchors
from twiin.errors import NotAuthorizedError
from twiin.exchange.notifications import NotificationReceiver, ReceivedEvent, ReceiverCore, SubscriptionClient
from twiin.exchange.workflow import (
    AssignedId,
    Fulfiller,
    Invitation,
    Placer,
    service_request,
    workflow_subscription,
)
from twiin.fhir import FhirClient, FhirVersion
from twiin.sandbox import GP, PLACER, Sandbox
from twiin.sandbox.network import PLACER_PATIENT_ID
from twiin.testing.server import serve

pytestmark = pytest.mark.e2e

WORK = {"coding": [{"system": "http://snomed.info/sct", "code": "308292007"}]}
GP_SERVICE = AssignedId("https://gp.sandbox.test/healthcareservice", "huisarts", GP.ura)


def _client(sandbox: Sandbox, party: str, trust: TrustAnchors) -> FhirClient:
    folder = sandbox.dir / party
    creds = Credentials.from_pem_files(folder / "cert.pem", folder / "key.pem")
    return FhirClient(sandbox.info["placer"], FhirVersion.R4, ssl_context=client_ssl_context(creds, trust))


def _request() -> dict[str, Any]:
    return service_request(
        patient=f"Patient/{PLACER_PATIENT_ID}",
        instantiates="https://example.org/fhir/ActivityDefinition/transfer-of-care",
        code=WORK,
        authored_on=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        requester=PLACER.ura,
        identifier_system="https://placer.sandbox.test/servicerequest",
    )


def test_workflow_round_trip_at_the_placer(sandbox: Sandbox, trust: TrustAnchors) -> None:
    request = _request()
    with (
        _client(sandbox, "placer", trust) as placer_http,
        _client(sandbox, "gp", trust) as gp_http,
        _client(sandbox, "hospital", trust) as hospital_http,
    ):
        placer = Placer(placer_http, ura=PLACER.ura, identifier_system="https://placer.sandbox.test/task")
        created = placer.create_request(request, [Invitation(GP_SERVICE)], type_of_work=WORK)
        (task,) = created.tasks
        impostor = Fulfiller(hospital_http, owner=GP_SERVICE)  # claims the GP's service, has its own cert
        with pytest.raises(NotAuthorizedError):  # the placer goes by the certificate's URA
            impostor.reject(task.id, "not mine")
        gp = Fulfiller(gp_http, owner=GP_SERVICE)
        (mine,) = gp.tasks(status="requested")
        assert mine.id == task.id
        done = gp.complete(gp.start(gp.accept(mine)).id)
    stored = sandbox.placer_store.current("Task", task.id)
    assert stored is not None
    assert stored.resource is not None
    assert stored.resource["status"] == "completed"
    assert done.version_id == stored.version_id


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the placer's notification never came"
        time.sleep(0.05)


def test_task_changes_are_notified_to_a_subscriber(sandbox: Sandbox, trust: TrustAnchors) -> None:
    owner = AssignedId("https://gp.sandbox.test/healthcareservice", "notified", GP.ura)
    events: list[ReceivedEvent] = []
    arrived = threading.Event()
    gp = Credentials.from_pem_files(sandbox.dir / "gp" / "cert.pem", sandbox.dir / "gp" / "key.pem")
    with (
        _client(sandbox, "gp", trust) as gp_http,
        _client(sandbox, "placer", trust) as placer_http,
    ):
        client = SubscriptionClient(gp_http)
        receiver = NotificationReceiver(
            lambda e: (events.append(e), arrived.set()), client, core=ReceiverCore(accept_unknown=True)
        )
        with serve(receiver.handle, server_ssl_context(gp, trust)) as hook:
            subscription = client.create(
                workflow_subscription(
                    topic=sandbox.info["topics"]["workflow"],
                    owner=owner,
                    endpoint=hook.url("notifications"),
                    heartbeat_period=3600,
                )
            )
            _wait_until(lambda: client.read(subscription["id"])["status"] == "active")  # handshake done
            placer = Placer(placer_http, ura=PLACER.ura, identifier_system="https://placer.sandbox.test/task")
            created = placer.create_request(_request(), [Invitation(owner)], type_of_work=WORK)
            _wait_until(arrived.is_set)
    (task,) = created.tasks
    (event,) = [e for e in events if e.event.focus]
    assert event.subscription.endswith(str(subscription["id"]))
    assert event.event.focus == f"{sandbox.info['placer']}/Task/{task.id}"
    assert event.resource is not None
    assert event.resource["id"] == task.id  # id-only: fetched from the placer over mTLS
