"""Sender and puller facades over httpx.MockTransport: requests, partial failures, paging guard, parity."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from twiin._http import create_async_client, create_client
from twiin._http.compat import httpx
from twiin.addressing import StaticAddressBook
from twiin.auth.server import MemoryAuthorizationBaseStore
from twiin.config import RetryPolicy
from twiin.errors import (
    AuthorizationBaseError,
    NotFoundError,
    NotificationCancelled,
    PagingError,
    ServerError,
    UnprocessableError,
)
from twiin.exchange.notified_pull import (
    BGZ_SERVER_PAYLOAD,
    NOTIFICATION_PAYLOAD,
    AsyncNotificationSender,
    AsyncPuller,
    Notification,
    NotificationSender,
    PartyId,
    PullCore,
    Puller,
    SenderCore,
)
from twiin.exchange.notified_pull.pull_server import REVOKED_CODE, refusal
from twiin.usecases import bgz

from .conftest import PATIENT, RECEIVER, SENDER

SENDER_BASE = "https://sender.example/fhir"
RECEIVER_BASE = "https://receiver.example/fhir"


def Resolver():
    return StaticAddressBook({"organization": [
        {"ura": SENDER.value, "endpoint": [{"address": SENDER_BASE, "payload_types": [BGZ_SERVER_PAYLOAD.code]}]},
        {"ura": RECEIVER.value, "endpoint": [{"address": RECEIVER_BASE, "payload_types": [NOTIFICATION_PAYLOAD.code]}]},
    ]})  # fmt: skip


def bundle(resources, next_url=None):
    links = [{"relation": "next", "url": next_url}] if next_url else []
    return {"resourceType": "Bundle", "type": "searchset", "link": links,
            "entry": [{"resource": r} for r in resources]}  # fmt: skip


def fhir(status, body):
    return httpx.Response(status, json=body, headers={"content-type": "application/fhir+json"})


def default_handler(request: httpx.Request) -> httpx.Response:
    path = request.url.path.removeprefix("/fhir/")
    if path == "Condition" and "_offset" not in str(request.url):
        return fhir(
            200, bundle([{"resourceType": "Condition", "id": "c1"}], f"{SENDER_BASE}/Condition?_offset=1")
        )
    if path == "Condition":
        return fhir(200, bundle([{"resourceType": "Condition", "id": "c2"}]))
    if path == "Flag":
        return fhir(500, {"resourceType": "OperationOutcome", "issue": []})
    if path == "AllergyIntolerance":
        return fhir(200, bundle([], "https://evil.example/fhir/AllergyIntolerance?page=2"))
    if path == "Observation/lab-1":
        return fhir(404, {"resourceType": "OperationOutcome", "issue": []})
    if path == "Task/wf-1":
        return fhir(200, {"resourceType": "Task", "id": "wf-1"})
    if path.startswith("NutritionOrder"):
        return fhir(200, bundle([], f"{SENDER_BASE}/NutritionOrder"))
    rt = path.split("/")[0].split("?")[0]
    return fhir(200, bundle([{"resourceType": rt, "id": rt.lower()}]))


def notification(queries=bgz.QUERIES, reads=("Observation/lab-1",), cancelled=False):
    from twiin.exchange.notified_pull import build_notification_task

    task = build_notification_task(
        sender=SENDER, receiver=RECEIVER, sending_system=PartyId("urn:x", "s"), patient=PATIENT,
        queries=queries, reads=reads, authorization_base="base-value", based_on="Task/wf-1", get_workflow_task=True,
    )  # fmt: skip
    if cancelled:
        task = task.cancellation()
    return Notification(task, "local-1", SENDER, datetime.now(UTC))


def make_core(**kw):
    return PullCore(Resolver(), lambda task, base: None, **kw)


def sync_pull(handler, note, **kw):
    client = create_client(transport=httpx.MockTransport(handler), retry=RetryPolicy.disabled())
    with Puller(make_core(**kw), client=client) as puller:
        return puller.pull(note)


def async_pull(handler, note, **kw):
    async def run():
        client = create_async_client(transport=httpx.MockTransport(handler), retry=RetryPolicy.disabled())
        async with AsyncPuller(make_core(**kw), client=client) as puller:
            return await puller.pull(note)

    return anyio.run(run)


@pytest.fixture(params=[sync_pull, async_pull], ids=["sync", "async"])
def pull(request):
    return request.param


def test_partial_failures_are_visible_per_input(pull):
    result = pull(default_handler, notification())
    assert not result.ok
    assert result.workflow_task == {"resourceType": "Task", "id": "wf-1"}
    by_target = {r.step.target: r for r in result.results}
    assert isinstance(by_target["Flag"].error, ServerError)
    assert isinstance(by_target["Observation/lab-1"].error, NotFoundError)
    assert isinstance(by_target["AllergyIntolerance"].error, PagingError)
    assert isinstance(by_target["NutritionOrder"].error, PagingError)
    condition = by_target["Condition"]
    assert condition.ok
    assert [r["id"] for r in condition.resources] == ["c1", "c2"]
    assert len(condition.pages) == 2
    assert len(result.failures) == 4
    assert len(result.results) == 30
    assert [r.step.target for r in result.results[1:]] == [q.query for q in bgz.QUERIES]


def test_concurrency_is_bounded_sync():
    import threading
    import time

    active, peak, lock = [0], [0], threading.Lock()

    def slow(request):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.01)
        with lock:
            active[0] -= 1
        return default_handler(request)

    sync_pull(slow, notification(), concurrency=3)
    assert peak[0] == 3


def test_concurrency_is_bounded_async():
    active, peak = [0], [0]

    async def slow(request):
        active[0] += 1
        peak[0] = max(peak[0], active[0])
        await anyio.sleep(0.01)
        active[0] -= 1
        return default_handler(request)

    async_pull(slow, notification(), concurrency=4)
    assert peak[0] == 4


def test_revoked_base_mid_pull_raises_notification_cancelled_with_partial(pull):
    def handler(request):
        if request.url.path.endswith("/Condition"):
            answer = refusal(403, "forbidden", "revoked", detail_code=REVOKED_CODE)
            return httpx.Response(403, content=answer.body, headers=dict(answer.headers))
        return default_handler(request)

    with pytest.raises(NotificationCancelled) as err:
        pull(handler, notification(reads=()))
    partial = err.value.partial
    assert partial.for_query("Condition").cancelled
    assert partial.for_query("Immunization?status=completed").ok


def test_cancelled_notification_is_not_pulled(pull):
    with pytest.raises(NotificationCancelled):
        pull(default_handler, notification(cancelled=True))


def test_page_limit(pull):
    def endless(request):
        n = int(request.url.params.get("_page", "0"))
        return fhir(
            200,
            bundle([{"resourceType": "Condition", "id": f"c{n}"}], f"{SENDER_BASE}/Condition?_page={n + 1}"),
        )

    result = pull(endless, notification(queries=[bgz.QUERIES[5]], reads=()), max_pages=5)
    failure = result.for_query("Condition")
    assert isinstance(failure.error, PagingError)
    assert len(failure.pages) == 5


# -- sender ---------------------------------------------------------------------------------


class Recorder:
    def __init__(self, status=201):
        self.requests = []
        self.status = status

    def __call__(self, request):
        self.requests.append(request)
        return fhir(self.status, {"resourceType": "Task", "id": "t1"}) if self.status < 400 else fhir(
            self.status, {"resourceType": "OperationOutcome", "issue": []})  # fmt: skip


def make_sender(recorder, bases):
    core = SenderCore(SENDER, PartyId("urn:x", "s"), Resolver(), bases, validity=timedelta(days=2))
    return NotificationSender(
        core, client=create_client(transport=httpx.MockTransport(recorder), retry=RetryPolicy.disabled())
    )


def test_notify_posts_the_task_and_issues_a_scoped_base():
    recorder, bases = Recorder(), MemoryAuthorizationBaseStore()
    with make_sender(recorder, bases) as sender:
        receipt = sender.notify(
            RECEIVER,
            PATIENT,
            bgz.QUERIES,
            reads=["Observation/1"],
            based_on="Task/wf",
            get_workflow_task=True,
        )
    request = recorder.requests[0]
    assert (request.method, str(request.url)) == ("POST", f"{RECEIVER_BASE}/Task")
    body = json.loads(request.content)
    assert body["owner"]["identifier"]["value"] == RECEIVER.value
    base = bases.resolve(receipt.authorization_base.value)
    assert set(base.queries) == {"Observation/1", "Task/wf", *(q.query for q in bgz.QUERIES)}
    assert base.receiver == RECEIVER
    assert base.patient == PATIENT
    assert body["input"][0]["valueString"] == receipt.authorization_base.value


def test_failed_notify_revokes_the_base():
    recorder, bases = Recorder(status=422), MemoryAuthorizationBaseStore()
    with make_sender(recorder, bases) as sender, pytest.raises(UnprocessableError):
        sender.notify(RECEIVER, PATIENT, bgz.QUERIES[:1])
    task = json.loads(recorder.requests[0].content)
    with pytest.raises(AuthorizationBaseError):
        bases.resolve(task["input"][0]["valueString"])


def test_update_reuses_group_and_cancel_is_a_conditional_update_that_revokes():
    recorder, bases = Recorder(), MemoryAuthorizationBaseStore()
    with make_sender(recorder, bases) as sender:
        first = sender.notify(RECEIVER, PATIENT, bgz.QUERIES[:2])
        second = sender.update(first, bgz.QUERIES[:3])
        assert second.task.group_identifier == first.task.group_identifier
        assert second.task.identifier != first.task.identifier
        recorder.status = 200
        assert sender.cancel(second) == 200
    cancel = recorder.requests[-1]
    assert cancel.method == "PUT"
    assert cancel.url.path == "/fhir/Task"
    assert cancel.url.params["identifier"] == second.task.identifier_token
    assert json.loads(cancel.content)["status"] == "cancelled"
    with pytest.raises(AuthorizationBaseError):
        bases.resolve(second.authorization_base.value)
    assert bases.resolve(first.authorization_base.value)


def test_async_sender_matches_sync():
    recorder, bases = Recorder(), MemoryAuthorizationBaseStore()
    core = SenderCore(SENDER, PartyId("urn:x", "s"), Resolver(), bases)

    async def run():
        client = create_async_client(transport=httpx.MockTransport(recorder), retry=RetryPolicy.disabled())
        async with AsyncNotificationSender(core, client=client) as sender:
            receipt = await sender.notify(RECEIVER, PATIENT, bgz.QUERIES)
            recorder.status = 200
            return receipt, await sender.cancel(receipt)

    receipt, status = anyio.run(run)
    assert status == 200
    assert [r.method for r in recorder.requests] == ["POST", "PUT"]
    with pytest.raises(AuthorizationBaseError):
        bases.resolve(receipt.authorization_base.value)


def _public(cls):
    return {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")}


@pytest.mark.parametrize(
    ("sync", "async_"), [(NotificationSender, AsyncNotificationSender), (Puller, AsyncPuller)]
)
def test_sync_and_async_facades_expose_the_same_methods(sync, async_):
    assert _public(sync) == _public(async_)
    for name in _public(async_):
        if name in ("notify", "update", "cancel", "pull", "close"):
            assert inspect.iscoroutinefunction(getattr(async_, name))
