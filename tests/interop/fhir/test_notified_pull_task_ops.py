"""The R4 Task operations Notified Pull variants need (AORTA R4B, the Generic Functions IG), on Medplum.

Our STU3 Notification Task differs from R4 only in ``requester`` (STU3 ``agent``/``onBehalfOf``,
R4 one Reference), so the R4 shape here is the builder's output with the requesting organisation
as ``requester``. Checked against an independent R4 server: creating the Task with every input
type, finding it by ``identifier`` and all Tasks of a data set by ``group-identifier``, reading
the workflow Task named in ``basedOn``, and the sender's cancellation exactly as
:class:`~twiin.exchange.notified_pull.SenderCore` builds it (``PUT Task?identifier=...``).
"""

from __future__ import annotations

from typing import Any

import pytest

from twiin._http import create_client, send
from twiin.addressing import StaticAddressBook
from twiin.auth.server import MemoryAuthorizationBaseStore
from twiin.exchange.notified_pull import PartyId, SenderCore, build_notification_task
from twiin.exchange.notified_pull.http_core import check_response
from twiin.fhir import FhirClient
from twiin.identifiers import Bsn, Ura
from twiin.usecases import bgz

pytestmark = pytest.mark.peer

SENDER, RECEIVER = Ura("11111111"), Ura("22222222")
SYSTEM = PartyId("urn:ietf:rfc:3986", "urn:oid:2.16.840.1.113883.2.4.3.164.2.1")


def _task(workflow_id: str, group: str | None = None):
    return build_notification_task(
        sender=SENDER, receiver=RECEIVER, sending_system=SYSTEM, patient=Bsn("999999151"),
        queries=bgz.QUERIES[:3], reads=["Observation/lab-1"], authorization_base="opaque-base",
        based_on=f"Task/{workflow_id}", get_workflow_task=True, group_identifier=group,
    )  # fmt: skip


def _r4(task: Any) -> dict[str, Any]:
    data = task.to_fhir()
    data["requester"] = data["requester"]["onBehalfOf"]
    return data


def _ids(fhir: FhirClient, query: str) -> list[str]:
    return [r.id for r in fhir.iter_resources("Task", query)]


def test_notification_task_lifecycle_on_an_r4_server(fhir: FhirClient, tag: str) -> None:
    workflow = fhir.create({"resourceType": "Task", "status": "in-progress", "intent": "order",
                            "identifier": [{"system": "urn:example:wf", "value": tag}]})  # fmt: skip
    first = _task(workflow.id)
    created = fhir.create(_r4(first))
    assert created.status == 201
    assert created.id
    stored = fhir.read("Task", created.id).resource
    assert stored.basedOn[0].reference == f"Task/{workflow.id}"
    values = [(i.type.coding[0].code, i.valueString, i.valueBoolean, i.valueReference) for i in stored.input]
    assert values[0][:2] == ("authorization-base", "opaque-base")
    assert values[1][2] is True
    assert values[2][3].reference == "Observation/lab-1"
    assert [v[1] for v in values[3:]] == [q.query for q in bgz.QUERIES[:3]]

    assert _ids(fhir, f"identifier={first.identifier_token}") == [created.id]
    update = fhir.create(_r4(_task(workflow.id, group=first.group_identifier)))
    group = f"group-identifier={first.identifier_system}|{first.group_identifier}"
    assert sorted(_ids(fhir, group)) == sorted([created.id, update.id])
    assert fhir.read("Task", workflow.id).id == workflow.id  # the get-workflow-task read

    core = SenderCore(SENDER, SYSTEM, StaticAddressBook({"organization": []}), MemoryAuthorizationBaseStore())
    with create_client() as client:
        answer = send(client, core.cancel_request(fhir.base_url, first))
    check_response(answer)
    assert answer.status_code == 200
    cancelled = fhir.read("Task", created.id)
    assert cancelled.resource.status == "cancelled"
    assert cancelled.version_id != created.version_id
    assert not cancelled.resource.input, "the cancelled Task no longer carries the authorization base"
    assert _ids(fhir, f"identifier={first.identifier_token}") == [created.id]
