"""TA Workflow against Medplum's FHIR engine (an independent R4 server), sync and async.

Medplum's in-memory repository does not evaluate the ``:identifier`` modifier on reference
parameters (``owner:identifier`` matches nothing), so the parties run with
``identifier_search=False`` here: the searches still use ``_lastUpdated``, ``focus``, ``code`` and
``intent`` on the server and keep only the caller's Tasks locally.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal

from twiin import naming
from twiin.errors import IllegalTransition, PreconditionFailedError
from twiin.exchange.workflow import (
    AssignedId,
    AsyncFulfiller,
    AsyncPlacer,
    Fulfiller,
    Invitation,
    Placer,
    service_request,
)
from twiin.fhir import FhirClient
from twiin.identifiers import Ura

from .conftest import Party, Recorder

pytestmark = pytest.mark.peer

PLACER = Ura("12345678")
WORK = {"coding": [{"system": "http://snomed.info/sct", "code": "308292007"}]}


@pytest.fixture
def patient(plain: FhirClient) -> str:
    created = plain.create(
        {
            "resourceType": "Patient",
            "identifier": [{"system": naming.BSN_SYSTEM, "value": "999999151"}],
            "name": [{"family": "Jansen", "given": ["Anna"]}],
        }
    )
    return f"Patient/{created.id}"


@pytest.fixture
def placer(make_client: Callable[[], Any], mode: str, tag: str, portal: BlockingPortal | None) -> Party:
    cls = AsyncPlacer if mode == "async" else Placer
    facade = cls(
        make_client(),
        ura=PLACER,
        identifier_system=f"https://placer.example.org/{tag}/task",
        identifier_search=False,
    )
    return Party(facade, portal)


@pytest.fixture
def fulfiller_for(
    make_client: Callable[[], Any], mode: str, portal: BlockingPortal | None
) -> Callable[[AssignedId], Party]:
    def make(owner: AssignedId, **kw: Any) -> Party:
        cls = AsyncFulfiller if mode == "async" else Fulfiller
        return Party(cls(make_client(), owner=owner, identifier_search=False, **kw), portal)

    return make


def request_for(patient: str, tag: str) -> dict[str, Any]:
    return service_request(
        patient=patient,
        instantiates="https://example.org/fhir/ActivityDefinition/transfer-of-care",
        code=WORK,
        authored_on=datetime.now(UTC),
        requester=PLACER,
        identifier_system=f"https://placer.example.org/{tag}/servicerequest",
    )


def test_single_fulfiller_with_if_match(
    placer: Party,
    fulfiller_for: Callable[..., Party],
    owners: Any,
    patient: str,
    tag: str,
    recorder: Recorder,
) -> None:
    fulfiller = fulfiller_for(owners[0])
    created = placer.create_request(request_for(patient, tag), [Invitation(owners[0])], type_of_work=WORK)
    (task,) = created.tasks
    assert task.version_id
    assert not task.version_id.isdigit()  # Medplum's versions are opaque UUIDs
    (found,) = fulfiller.tasks(status="requested")
    assert found.id == task.id
    accepted = fulfiller.accept(found)
    started = fulfiller.start(accepted)
    done = fulfiller.complete(started)
    assert done.status == "completed"
    assert done.resource["executionPeriod"]["start"] <= done.resource["executionPeriod"]["end"]
    puts = recorder.puts(f"/Task/{task.id}")
    assert [status for _, status in puts] == [200, 200, 200]
    assert [m for m, _ in puts] == [
        f'W/"{task.version_id}"',
        f'W/"{accepted.version_id}"',
        f'W/"{started.version_id}"',
    ]
    # a retried create is a no-op thanks to If-None-Exist
    resent = {k: v for k, v in created.service_request.resource.items() if k not in ("id", "meta")}
    again = placer.create_request(resent, [Invitation(owners[0])], type_of_work=WORK)
    assert again.service_request.id == created.service_request.id


def test_concurrent_update_gets_412_and_is_re_applied(
    placer: Party,
    fulfiller_for: Callable[..., Party],
    owners: Any,
    patient: str,
    tag: str,
    recorder: Recorder,
    plain: FhirClient,
) -> None:
    fulfiller = fulfiller_for(owners[0])
    (task,) = placer.create_request(
        request_for(patient, tag), [Invitation(owners[0])], type_of_work=WORK
    ).tasks
    stale = fulfiller.read("Task", task.id)
    current = plain.read("Task", task.id)
    plain.update({**current.json, "description": "bring the wound care kit"}, if_match=current.version_id)
    accepted = fulfiller.accept(stale, bid="tomorrow morning")
    assert [status for _, status in recorder.puts(f"/Task/{task.id}")] == [412, 200]
    stored = plain.read("Task", task.id).json
    assert stored["status"] == "accepted"
    assert stored["description"] == "bring the wound care kit"
    assert stored["output"][0]["valueString"] == "tomorrow morning"
    assert accepted.version_id == stored["meta"]["versionId"]


def test_bounded_attempts_against_a_busy_task(
    placer: Party,
    fulfiller_for: Callable[..., Party],
    owners: Any,
    patient: str,
    tag: str,
    recorder: Recorder,
    plain: FhirClient,
) -> None:
    fulfiller = fulfiller_for(owners[0], attempts=2)
    (task,) = placer.create_request(
        request_for(patient, tag), [Invitation(owners[0])], type_of_work=WORK
    ).tasks

    def someone_writes_first(request: Any) -> None:
        if request.method == "PUT":
            current = plain.read("Task", task.id)
            plain.update({**current.json, "priority": "urgent"}, if_match=current.version_id)

    recorder.before.append(someone_writes_first)
    with pytest.raises(PreconditionFailedError):
        fulfiller.accept(task.id)
    recorder.before.clear()
    assert [status for _, status in recorder.puts(f"/Task/{task.id}")] == [412, 412]
    assert plain.read("Task", task.id).json["status"] == "requested"


def test_resynchronisation_with_last_updated(
    placer: Party, fulfiller_for: Callable[..., Party], owners: Any, patient: str, tag: str, plain: FhirClient
) -> None:
    a, b = fulfiller_for(owners[0]), fulfiller_for(owners[1])
    created = placer.create_request(
        request_for(patient, tag), [Invitation(owners[0]), Invitation(owners[1])], type_of_work=WORK
    )
    first = a.resynchronize()
    assert [t.id for t in first.changed] == [created.tasks[0].id]
    assert first.cursor.last_updated is not None
    assert a.resynchronize(first.cursor).changed == ()
    b.accept(created.tasks[1].id)
    current = plain.read("Task", created.tasks[0].id)
    plain.update({**current.json, "description": "changed at the Placer"}, if_match=current.version_id)
    second = a.resynchronize(first.cursor)
    assert [t.id for t in second.changed] == [created.tasks[0].id]
    assert second.changed[0].resource["description"] == "changed at the Placer"
    assert [t.id for t in placer.coordination_tasks(created.service_request.id)] == [
        t.id for t in created.tasks
    ]


def test_multiple_fulfillers_selection_in_one_transaction(
    placer: Party,
    fulfiller_for: Callable[..., Party],
    owners: Any,
    patient: str,
    tag: str,
    recorder: Recorder,
    plain: FhirClient,
) -> None:
    a, b, c = (fulfiller_for(o) for o in owners)
    created = placer.create_request(
        request_for(patient, tag), [Invitation(o) for o in owners], type_of_work=WORK
    )
    assert all("for" not in t.resource for t in created.tasks)
    task_a, task_b, task_c = created.tasks
    a.accept(task_a.id, bid="Available from 2026-10-12")
    b.accept(task_b.id, bid="Available from 2026-10-20")

    def b_changes_its_bid_meanwhile(request: Any) -> None:
        if request.method == "POST" and request.url.path.rstrip("/").endswith("/fhir"):
            recorder.before.clear()
            current = plain.read("Task", task_b.id)
            changed = copy.deepcopy(current.json)
            changed["output"] = [{"type": {"text": "Bid"}, "valueString": "Available from 2026-10-14"}]
            plain.update(changed, if_match=current.version_id)

    recorder.before.append(b_changes_its_bid_meanwhile)
    selection = placer.select(created.service_request.id, task_a.id)
    transactions = [s for (m, p, _, s) in recorder.sent if m == "POST" and p.rstrip("/").endswith("/fhir")]
    assert len(transactions) == 2  # the first met a stale version and was planned again
    chosen = plain.read("Task", task_a.id).json
    assert chosen["businessStatus"]["coding"][0]["code"] == "selected"
    assert chosen["code"]["coding"][0]["code"] == "fulfill"
    assert chosen["for"] == {"reference": patient}
    not_selected = plain.read("Task", task_b.id).json
    assert not_selected["status"] == "cancelled"
    assert not_selected["statusReason"]["coding"][0]["code"] == "not-selected"
    assert not_selected["output"][0]["valueString"] == "Available from 2026-10-14"
    assert plain.read("Task", task_c.id).json["status"] == "cancelled"
    sr = plain.read("ServiceRequest", created.service_request.id).json
    assert sr["performer"][0]["identifier"]["value"] == owners[0].value
    assert selection.selected.version_id == chosen["meta"]["versionId"]
    a.start(task_a.id)
    with pytest.raises(IllegalTransition):
        c.accept(task_c.id)
    assert plain.read("Task", task_a.id).json["status"] == "in-progress"


def test_cancellation_and_authorization_cancellation(
    placer: Party, fulfiller_for: Callable[..., Party], owners: Any, patient: str, tag: str, plain: FhirClient
) -> None:
    fulfiller = fulfiller_for(owners[0])
    created = placer.create_request(request_for(patient, tag), [Invitation(owners[0])], type_of_work=WORK)
    (task,) = created.tasks
    with pytest.raises(IllegalTransition):
        placer.request_cancellation(task.id)
    fulfiller.start(fulfiller.accept(task.id))
    crt = placer.request_cancellation(task.id, reason_text="patient moved")
    (pending,) = fulfiller.cancellation_requests()
    assert pending.id == crt.id
    fulfiller.reject_cancellation_request(pending, "almost finished")
    assert plain.read("Task", crt.id).json["status"] == "rejected"

    acrt = fulfiller.request_authorization_cancellation(
        task.id, "Contraindication found for the requested service"
    )
    mine = fulfiller.authorization_cancellation_requests(focus=created.service_request.reference)
    assert [t.id for t in mine] == [acrt.id]
    found = [t for t in placer.authorization_cancellation_requests() if t.id == acrt.id]
    assert len(found) == 1
    withdrawal = placer.accept_authorization_cancellation(found[0])
    assert withdrawal.authorization_cancellation.status == "accepted"
    assert plain.read("ServiceRequest", created.service_request.id).json["status"] == "revoked"
    (second_crt,) = withdrawal.cancellation_requests
    outcome = fulfiller.accept_cancellation_request(second_crt.id)
    assert outcome.task.status == "failed"
    assert placer.finish_cancellation(second_crt.id).status == "failed"


def test_json_patch_with_if_match(
    placer: Party,
    fulfiller_for: Callable[..., Party],
    owners: Any,
    patient: str,
    tag: str,
    recorder: Recorder,
    plain: FhirClient,
) -> None:
    fulfiller = fulfiller_for(owners[0], use_patch=True)
    (task,) = placer.create_request(
        request_for(patient, tag), [Invitation(owners[0])], type_of_work=WORK
    ).tasks
    stale = fulfiller.read("Task", task.id)
    current = plain.read("Task", task.id)
    plain.update({**current.json, "description": "changed first"}, if_match=current.version_id)
    accepted = fulfiller.accept(stale, bid="next week")
    started = fulfiller.start(accepted)
    patches = [(s, m) for (meth, p, m, s) in recorder.sent if meth == "PATCH" and task.id in p]
    assert [s for s, _ in patches] == [412, 200, 200]
    assert all(m is not None for _, m in patches)
    stored = plain.read("Task", task.id).json
    assert (stored["status"], stored["description"]) == ("in-progress", "changed first")
    assert stored["meta"]["versionId"] == started.version_id
