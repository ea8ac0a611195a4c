"""Both halves end to end over twiin's FHIR clients against a guarded in-memory Placer server.

Every test runs with the sync and the async facades (one implementation underneath).
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from twiin import naming
from twiin.audit import Auditor, MemorySink, Pseudonymizer
from twiin.errors import (
    ExchangeError,
    FHIRError,
    IllegalTransition,
    NotAuthorizedError,
    PreconditionFailedError,
    ProfileValidationError,
    UnprocessableError,
)
from twiin.exchange.workflow import (
    AsyncFulfiller,
    AsyncPlacer,
    Fulfiller,
    Invitation,
    Pattern,
    Placer,
    service_request,
)
from twiin.identifiers import Ura

from . import examples as ex
from .conftest import AT, LOCATION_A, OWNER_A, OWNER_B, PLACER, TASK_SYSTEM, WORK
from .placer_server import Party, PlacerServer

OWNER_C_URA = Ura("55555555")


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server() -> PlacerServer:
    srv = PlacerServer(PLACER)
    srv.store.create(ex.patient(), id=ex.PATIENT_ID)
    return srv


def make_placer(server: PlacerServer, mode: str, **kw: Any) -> Party:
    if mode == "async":
        return Party(
            AsyncPlacer(server.async_client(PLACER), ura=PLACER, identifier_system=TASK_SYSTEM, **kw), True
        )
    return Party(Placer(server.client(PLACER), ura=PLACER, identifier_system=TASK_SYSTEM, **kw), False)


def make_fulfiller(server: PlacerServer, mode: str, owner: Any = OWNER_A, **kw: Any) -> Party:
    if mode == "async":
        return Party(AsyncFulfiller(server.async_client(owner.assigner), owner=owner, **kw), True)
    return Party(Fulfiller(server.client(owner.assigner), owner=owner, **kw), False)


def new_request() -> dict[str, Any]:
    return service_request(
        patient=f"Patient/{ex.PATIENT_ID}",
        instantiates="https://example.org/fhir/ActivityDefinition/transfer-of-care",
        code=WORK,
        authored_on=AT,
        requester=PLACER,
        identifier_system="https://placer.example.org/servicerequest",
    )


def if_match_headers(server: PlacerServer) -> list[str | None]:
    return [r.headers.get("if-match") for r in server.requests if r.method == "PUT"]


def test_single_fulfiller_pattern(server: PlacerServer, mode: str) -> None:
    placer, fulfiller = make_placer(server, mode), make_fulfiller(server, mode)
    created = placer.create_request(
        new_request(),
        [Invitation(OWNER_A, LOCATION_A)],
        type_of_work=WORK,
        supplemental_queries=[f"Observation?patient={ex.PATIENT_ID}&code=http://loinc.org|8302-2"],
    )
    assert created.pattern is Pattern.SINGLE
    (task,) = created.tasks
    assert task.resource["for"] == {"reference": f"Patient/{ex.PATIENT_ID}"}
    assert task.resource["focus"] == {"reference": created.service_request.reference}

    (mine,) = fulfiller.tasks(status="requested")
    assert mine.id == task.id
    assert fulfiller.is_mine(mine.resource)
    accepted = fulfiller.accept(mine)
    started = fulfiller.start(accepted)
    done = fulfiller.complete(started.id, outputs=[{"type": {"text": "report"}, "valueString": "done"}])
    stored = server.current("Task", task.id)
    assert stored["status"] == "completed"
    assert stored["executionPeriod"]["start"]
    assert done.version_id == stored["meta"]["versionId"]
    # every update named the version it was computed from
    assert if_match_headers(server) == ['W/"1"', 'W/"2"', 'W/"3"']


def test_multiple_fulfillers_selection(server: PlacerServer, mode: str) -> None:
    owner_c = type(OWNER_A)("https://fulfiller-c.example.org/hcs", "thuiszorg", OWNER_C_URA)
    placer = make_placer(server, mode)
    a, b, c = (make_fulfiller(server, mode, o) for o in (OWNER_A, OWNER_B, owner_c))
    created = placer.create_request(
        new_request(), [Invitation(o) for o in (OWNER_A, OWNER_B, owner_c)], type_of_work=WORK
    )
    assert created.pattern is Pattern.MULTIPLE
    assert all("for" not in t.resource for t in created.tasks)
    task_a, task_b, task_c = created.tasks

    a.accept(task_a.id, bid="Available from 2026-10-12")
    b.accept(task_b.id, bid="Available from 2026-10-20")
    c.reject(task_c.id, "no capacity")
    with pytest.raises(IllegalTransition, match="fulfill"):
        a.start(task_a.id)  # still bidding: refused before sending
    assert server.count("PUT") == 3

    selection = placer.select(created.service_request.id, task_a.id)
    chosen = server.current("Task", task_a.id)
    assert chosen["businessStatus"]["coding"][0]["code"] == "selected"
    assert chosen["code"]["coding"][0] == {
        "system": naming.HL7_TASK_CODE_SYSTEM,
        "code": "fulfill",
        "display": "Fulfill the focal request",
    }
    assert chosen["for"] == {"reference": f"Patient/{ex.PATIENT_ID}"}
    assert chosen["output"][0]["valueString"] == "Available from 2026-10-12"
    sr = server.current("ServiceRequest", created.service_request.id)
    assert sr["performer"] == [task_a.resource["owner"]]
    other = server.current("Task", task_b.id)
    assert other["status"] == "cancelled"
    assert other["statusReason"]["coding"][0]["code"] == "not-selected"
    assert other["statusReason"]["text"] == "not selected"
    assert server.current("Task", task_c.id)["status"] == "rejected"
    assert selection.selected.id == task_a.id
    assert [t.id for t in selection.not_selected] == [task_b.id]
    # the selection went out as one transaction of version-aware PUTs
    (bundle,) = [
        json.loads(r.content) for r in server.requests if r.method == "POST" and r.url.path == "/fhir"
    ]
    assert bundle["type"] == "transaction"
    assert all(e["request"]["ifMatch"].startswith('W/"') for e in bundle["entry"])

    a.start(task_a.id)
    assert server.current("Task", task_a.id)["status"] == "in-progress"
    with pytest.raises(IllegalTransition):
        b.start(task_b.id)
    with pytest.raises(IllegalTransition, match="exactly one"):
        placer.select(created.service_request.id, task_b.id)


def test_selection_without_transactions(server: PlacerServer, mode: str) -> None:
    placer, a, b = (
        make_placer(server, mode),
        make_fulfiller(server, mode),
        make_fulfiller(server, mode, OWNER_B),
    )
    created = placer.create_request(
        new_request(), [Invitation(OWNER_A), Invitation(OWNER_B)], type_of_work=WORK
    )
    a.accept(created.tasks[0].id)
    b.accept(created.tasks[1].id)
    selection = placer.select(created.service_request.id, created.tasks[1].id, atomic=False)
    assert not [r for r in server.requests if r.method == "POST" and r.url.path == "/fhir"]  # no transaction
    assert server.current("Task", created.tasks[1].id)["businessStatus"]["coding"][0]["code"] == "selected"
    assert server.current("Task", created.tasks[0].id)["status"] == "cancelled"
    assert selection.service_request.resource["performer"] == [created.tasks[1].resource["owner"]]
    # selecting the same candidate again changes nothing and sends nothing
    puts = server.count("PUT")
    again = placer.select(created.service_request.id, created.tasks[1].id, atomic=False)
    assert server.count("PUT") == puts
    assert again.selected.id == created.tasks[1].id


def test_concurrent_update_is_re_applied(server: PlacerServer, mode: str) -> None:
    placer, fulfiller = make_placer(server, mode), make_fulfiller(server, mode)
    (task,) = placer.create_request(new_request(), [Invitation(OWNER_A)], type_of_work=WORK).tasks
    stale = fulfiller.read("Task", task.id)

    def placer_writes_first(request: Any) -> None:
        if request.method == "PUT" and not getattr(placer_writes_first, "done", False):
            placer_writes_first.done = True  # type: ignore[attr-defined]
            current = copy.deepcopy(server.current("Task", task.id))
            current["description"] = "please bring the wound care kit"
            server.store.update(current, if_match=current["meta"]["versionId"])

    server.before.append(placer_writes_first)
    accepted = fulfiller.accept(stale, bid="tomorrow")
    stored = server.current("Task", task.id)
    assert stored["status"] == "accepted"
    assert stored["description"] == "please bring the wound care kit"  # the other write survived
    assert stored["output"][0]["valueString"] == "tomorrow"
    assert accepted.version_id == "3"
    assert if_match_headers(server) == ['W/"1"', 'W/"2"']
    assert server.count("GET", f"/Task/{task.id}") == 2  # the first read and the re-read after 412


def test_re_application_stops_when_the_task_moved_on(server: PlacerServer, mode: str) -> None:
    placer, fulfiller = make_placer(server, mode), make_fulfiller(server, mode)
    (task,) = placer.create_request(new_request(), [Invitation(OWNER_A)], type_of_work=WORK).tasks
    stale = fulfiller.read("Task", task.id)
    placer.cancel(task.id, "patient admitted to hospital")
    with pytest.raises(IllegalTransition) as info:
        fulfiller.accept(stale)
    assert info.value.current == "cancelled"
    assert server.count("PUT") == 2  # the Placer's cancel and one stale attempt, nothing after the re-read


def test_attempts_are_bounded(server: PlacerServer, mode: str) -> None:
    placer = make_placer(server, mode)
    fulfiller = make_fulfiller(server, mode, attempts=3)
    (task,) = placer.create_request(new_request(), [Invitation(OWNER_A)], type_of_work=WORK).tasks

    def always_conflict(request: Any) -> None:
        if request.method == "PUT":
            current = copy.deepcopy(server.current("Task", task.id))
            current["description"] = f"edit {server.count('PUT')}"
            server.store.update(current)

    server.before.append(always_conflict)
    with pytest.raises(PreconditionFailedError):
        fulfiller.accept(task.id)
    assert server.count("PUT") == 3
    assert server.current("Task", task.id)["status"] == "requested"


def test_caller_supplied_change_is_checked_and_re_applied(server: PlacerServer, mode: str) -> None:
    placer, fulfiller = make_placer(server, mode), make_fulfiller(server, mode)
    (task,) = placer.create_request(new_request(), [Invitation(OWNER_A)], type_of_work=WORK).tasks
    calls: list[str] = []

    def note_period(current: dict[str, Any]) -> dict[str, Any]:
        calls.append(current["meta"]["versionId"])
        return {**current, "executionPeriod": {"start": "2026-10-12T08:00:00+02:00"}}

    def placer_writes_first(request: Any) -> None:
        if request.method == "PUT" and not calls[1:]:
            current = copy.deepcopy(server.current("Task", task.id))
            current["priority"] = "urgent"
            server.store.update(current)

    server.before.append(placer_writes_first)
    fulfiller.update_task(task.id, note_period)
    assert calls == ["1", "2"]
    assert server.current("Task", task.id)["priority"] == "urgent"
    with pytest.raises(IllegalTransition, match="wf-not-writable"):
        fulfiller.update_task(task.id, lambda t: {**t, "priority": "routine"})


def test_server_refuses_what_the_sdk_would_have_refused(server: PlacerServer, mode: str) -> None:
    placer = make_placer(server, mode)
    (task,) = placer.create_request(new_request(), [Invitation(OWNER_A)], type_of_work=WORK).tasks
    raw = server.client(OWNER_A.assigner)
    forged = {
        **task.resource,
        "businessStatus": {"coding": [{"system": naming.CS_TA_WORKFLOW, "code": "selected"}]},
    }
    with pytest.raises(UnprocessableError):
        raw.update(forged, if_match=task.version_id)
    stranger = server.client(OWNER_C_URA)
    with pytest.raises(NotAuthorizedError):
        stranger.update({**task.resource, "status": "accepted"}, if_match=task.version_id)
    with pytest.raises(FHIRError) as info:
        raw.update({**task.resource, "status": "accepted"})  # no If-Match
    assert info.value.status == 428
    assert server.current("Task", task.id)["status"] == "requested"


def test_resynchronisation(server: PlacerServer, mode: str) -> None:
    placer, fulfiller = make_placer(server, mode), make_fulfiller(server, mode)
    other = make_fulfiller(server, mode, OWNER_B)
    created = placer.create_request(
        new_request(), [Invitation(OWNER_A), Invitation(OWNER_B)], type_of_work=WORK
    )
    first = fulfiller.resynchronize()
    assert [t.id for t in first.changed] == [created.tasks[0].id]
    assert fulfiller.resynchronize(first.cursor).changed == ()
    other.accept(created.tasks[1].id)  # someone else's Task: not ours to see
    placer.update_task(created.tasks[0].id, lambda t: {**t, "description": "updated"})
    second = fulfiller.resynchronize(first.cursor)
    assert [(t.id, t.version_id) for t in second.changed] == [(created.tasks[0].id, "2")]
    searches = [r for r in server.requests if r.method == "GET" and r.url.path == "/fhir/Task"]
    assert "owner%3Aidentifier" in str(searches[-1].url) or "owner:identifier" in str(searches[-1].url)
    assert "_lastUpdated=ge" in str(searches[-1].url)


def test_cancellation_request(server: PlacerServer, mode: str) -> None:
    placer, fulfiller = make_placer(server, mode), make_fulfiller(server, mode)
    (task,) = placer.create_request(new_request(), [Invitation(OWNER_A)], type_of_work=WORK).tasks
    posts = server.count("POST")
    with pytest.raises(IllegalTransition, match="in-progress"):
        placer.request_cancellation(task.id)
    assert server.count("POST") == posts
    fulfiller.start(fulfiller.accept(task.id))
    crt = placer.request_cancellation(task.id, reason_text="patient moved")
    assert crt.resource["focus"] == {"reference": f"Task/{task.id}"}
    (found,) = fulfiller.cancellation_requests()
    assert found.id == crt.id
    outcome = fulfiller.accept_cancellation_request(found)
    assert outcome.cancellation_request.status == "accepted"
    assert outcome.task.status == "failed"
    assert server.current("Task", task.id)["status"] == "failed"
    assert placer.finish_cancellation(crt.id).status == "failed"
    assert fulfiller.cancellation_requests() == []


def test_rejected_cancellation_request_and_withdrawal(server: PlacerServer, mode: str) -> None:
    placer, fulfiller = make_placer(server, mode), make_fulfiller(server, mode)
    (task,) = placer.create_request(new_request(), [Invitation(OWNER_A)], type_of_work=WORK).tasks
    fulfiller.start(fulfiller.accept(task.id))
    crt = placer.request_cancellation(task.id)
    fulfiller.reject_cancellation_request(crt.id, "nearly finished")
    assert server.current("Task", crt.id)["status"] == "rejected"
    with pytest.raises(IllegalTransition):
        placer.finish_cancellation(crt.id)
    second = placer.request_cancellation(task.id)
    assert placer.withdraw_cancellation_request(second.id, "resolved by phone").status == "cancelled"
    fulfiller.complete(task.id)
    assert server.current("Task", task.id)["status"] == "completed"


def test_cancellation_request_refused_when_work_already_ended(server: PlacerServer, mode: str) -> None:
    placer, fulfiller = make_placer(server, mode), make_fulfiller(server, mode)
    (task,) = placer.create_request(new_request(), [Invitation(OWNER_A)], type_of_work=WORK).tasks
    fulfiller.start(fulfiller.accept(task.id))
    crt = placer.request_cancellation(task.id)
    fulfiller.complete(task.id)
    puts = server.count("PUT")
    with pytest.raises(IllegalTransition):
        fulfiller.accept_cancellation_request(crt.id)
    assert server.count("PUT") == puts


def test_authorization_cancellation_accepted(server: PlacerServer, mode: str) -> None:
    placer, a = make_placer(server, mode), make_fulfiller(server, mode)
    created = placer.create_request(
        new_request(), [Invitation(OWNER_A), Invitation(OWNER_B)], type_of_work=WORK
    )
    task_a, task_b = created.tasks
    a.accept(task_a.id)
    placer.select(created.service_request.id, task_a.id)
    a.start(task_a.id)
    acrt = a.request_authorization_cancellation(task_a.id, "Contraindication found for the requested service")
    assert acrt.resource["requester"]["identifier"]["value"] == OWNER_A.assigner.value
    assert acrt.resource["owner"]["identifier"] == {"system": naming.URA_SYSTEM, "value": PLACER.value}
    assert [t.id for t in a.authorization_cancellation_requests()] == [acrt.id]
    (pending,) = placer.authorization_cancellation_requests()
    withdrawal = placer.accept_authorization_cancellation(pending)
    assert withdrawal.authorization_cancellation.status == "accepted"
    assert server.current("ServiceRequest", created.service_request.id)["status"] == "revoked"
    assert withdrawal.cancelled == ()  # B was already cancelled as not selected
    (crt,) = withdrawal.cancellation_requests
    assert crt.resource["focus"] == {"reference": f"Task/{task_a.id}"}
    assert placer.authorization_cancellation_requests() == []
    assert server.current("Task", task_b.id)["status"] == "cancelled"


def test_authorization_cancellation_rejected_and_open_tasks_cancelled(
    server: PlacerServer, mode: str
) -> None:
    placer, a = make_placer(server, mode), make_fulfiller(server, mode)
    created = placer.create_request(
        new_request(), [Invitation(OWNER_A), Invitation(OWNER_B)], type_of_work=WORK
    )
    first = a.request_authorization_cancellation(created.tasks[0].id, "not our specialty")
    rejected = placer.reject_authorization_cancellation(first.id, "no alternative available")
    assert rejected.resource["statusReason"]["text"] == "no alternative available"
    second = a.request_authorization_cancellation(created.tasks[0].id, "still not our specialty")
    withdrawal = placer.accept_authorization_cancellation(second.id)
    assert {t.id for t in withdrawal.cancelled} == {t.id for t in created.tasks}
    assert all(server.current("Task", t.id)["status"] == "cancelled" for t in created.tasks)


def test_a_fulfiller_cannot_act_on_another_owners_task(server: PlacerServer, mode: str) -> None:
    placer, b = make_placer(server, mode), make_fulfiller(server, mode, OWNER_B)
    (task,) = placer.create_request(new_request(), [Invitation(OWNER_A)], type_of_work=WORK).tasks
    assert not b.is_mine(task.resource)
    with pytest.raises(ExchangeError, match="another HealthcareService"):
        b.accept(task.id)
    with pytest.raises(ExchangeError, match="another HealthcareService"):
        b.request_authorization_cancellation(task.id, "x")
    assert server.count("PUT") == 0


def test_profile_errors_stop_a_create(server: PlacerServer, mode: str) -> None:
    placer = make_placer(server, mode)
    broken = new_request()
    broken["subject"]["extension"] = [{"url": naming.DATA_ABSENT_REASON, "valueCode": "masked"}]
    with pytest.raises(ProfileValidationError, match="twiin-sr-1"):
        placer.create_request(broken, [Invitation(OWNER_A)], type_of_work=WORK)
    assert server.requests == []


def test_audit_events_and_no_bsn_in_logs(
    server: PlacerServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    sink = MemorySink()
    auditor = Auditor(sink, Pseudonymizer(b"k" * 32), "https://placer.example.org", PLACER)
    placer = make_placer(server, mode, auditor=auditor)
    fulfiller = make_fulfiller(server, mode)
    with caplog.at_level(logging.DEBUG):
        (task,) = placer.create_request(new_request(), [Invitation(OWNER_A)], type_of_work=WORK).tasks
        fulfiller.read("Patient", ex.PATIENT_ID)
        stale = fulfiller.read("Task", task.id)
        placer.update_task(task.id, lambda t: {**t, "description": "x"})
        fulfiller.accept(stale)
    assert sink.actions() == ["workflow.create", "workflow.create", "workflow.read", "workflow.update"]
    assert all(e.outcome == "success" for e in sink.events)
    assert "999999151" not in caplog.text
    assert "version conflict" in caplog.text


@pytest.mark.parametrize(("sync", "async_"), [(Placer, AsyncPlacer), (Fulfiller, AsyncFulfiller)])
def test_facades_expose_the_same_methods(sync: type, async_: type) -> None:
    def public(cls: type) -> dict[str, Callable[..., Any]]:
        return {n: getattr(cls, n) for n in dir(cls) if not n.startswith("_")}

    assert public(sync).keys() == public(async_).keys()
    for name, method in public(sync).items():
        if callable(method):
            assert (
                inspect.signature(method).parameters.keys()
                == inspect.signature(public(async_)[name]).parameters.keys()
            )


def test_local_owner_filter_when_the_placer_ignores_the_modifier(server: PlacerServer, mode: str) -> None:
    placer = make_placer(server, mode, identifier_search=False)
    b = make_fulfiller(server, mode, OWNER_B, identifier_search=False)
    created = placer.create_request(
        new_request(), [Invitation(OWNER_A), Invitation(OWNER_B)], type_of_work=WORK
    )
    assert [t.id for t in b.tasks()] == [created.tasks[1].id]
    assert [t.id for t in b.resynchronize().changed] == [created.tasks[1].id]
    searches = [str(r.url) for r in server.requests if r.method == "GET" and r.url.path == "/fhir/Task"]
    assert searches
    assert not any("identifier" in url for url in searches)
    a = make_fulfiller(server, mode, OWNER_A, identifier_search=False)
    acrt = a.request_authorization_cancellation(created.tasks[0].id, "wrong specialty")
    assert [t.id for t in placer.authorization_cancellation_requests()] == [acrt.id]
    assert b.authorization_cancellation_requests() == []


def test_updates_as_json_patch(server: PlacerServer, mode: str) -> None:
    placer = make_placer(server, mode, use_patch=True)
    fulfiller = make_fulfiller(server, mode, use_patch=True)
    created = placer.create_request(
        new_request(), [Invitation(OWNER_A), Invitation(OWNER_B)], type_of_work=WORK
    )
    task = created.tasks[0]
    stale = fulfiller.read("Task", task.id)
    placer.update_task(task.id, lambda t: {**t, "description": "by patch"})
    fulfiller.accept(stale, bid="soon")  # first PATCH meets 412, the re-read one succeeds
    patches = [r for r in server.requests if r.method == "PATCH"]
    assert [r.headers["if-match"] for r in patches] == ['W/"1"', 'W/"1"', 'W/"2"']
    assert all(r.headers["content-type"].startswith("application/json-patch+json") for r in patches)
    ops = json.loads(patches[-1].content)
    assert {o["path"] for o in ops} == {"/status", "/output", "/lastModified"}
    stored = server.current("Task", task.id)
    assert (stored["status"], stored["description"]) == ("accepted", "by patch")
    placer.select(created.service_request.id, task.id, atomic=False)
    assert server.current("Task", created.tasks[1].id)["status"] == "cancelled"
    raw = server.client(OWNER_A.assigner)
    with pytest.raises(UnprocessableError):
        raw.patch("Task", task.id, [{"op": "replace", "path": "/priority", "value": "stat"}], if_match="4")
    with pytest.raises(UnprocessableError):
        raw.patch("Task", task.id, [{"op": "test", "path": "/status", "value": "nope"}], if_match="4")
