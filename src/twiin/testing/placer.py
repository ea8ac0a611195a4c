"""A TA Workflow Placer FHIR server for tests and the sandbox: an R4 store behind twiin's Task guard.

:class:`PlacerFhirServer` is a server block: every ``POST``/``PUT``/``PATCH`` of a ``Task``, also
inside a batch or transaction Bundle, is vetted by :func:`twiin.exchange.workflow.guard_task_write`
for the calling organisation (the workflow state machine, which elements each party may change,
``If-Match``, the Twiin profile) before it reaches the
:class:`~twiin.testing.fhir_store.FhirStoreServer`; every other write (a ServiceRequest, a
deletion) only the placer itself may make. Reads are open to every caller that got through mTLS.
The caller's URA comes from ``identify``: by default the UZI server certificate it presented.

With ``subscriptions`` (a :class:`~twiin.exchange.notifications.SubscriptionServerCore`) it is
also a TA Notifications data holder: ``[base]/Subscription`` is served by the core, and every
stored Task change is published on ``topic`` (or, without one, on every topic subscribed to) with
the Task's ``owner:identifier`` as filter value. :func:`background_dispatch` delivers the queued
notifications from a thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from twiin.auth.uzi import uzi_identity
from twiin.errors import TwiinError
from twiin.exchange.notifications import Dispatcher, SubscriptionServerCore
from twiin.exchange.workflow import guard_task_write
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura
from twiin.redaction import get_logger
from twiin.serving import Answer, IncomingRequest
from twiin.testing.fhir_store import FhirStoreServer, MemoryFhirStore

__all__ = ["PlacerFhirServer", "background_dispatch", "certificate_ura", "loopback_only"]

log = get_logger(__name__)

Identify = Callable[[IncomingRequest], Ura | None]


def certificate_ura(request: IncomingRequest) -> Ura | None:
    """The URA in the caller's UZI server certificate (``None`` without a usable one)."""
    if request.peer_certificate is None:
        return None
    try:
        return uzi_identity(request.peer_certificate).ura
    except TwiinError:
        return None


class PlacerFhirServer:
    """The Placer's R4 FHIR endpoint under ``base_path``; ``store`` holds its Tasks and requests."""

    def __init__(
        self,
        placer_ura: Ura,
        store: MemoryFhirStore | None = None,
        *,
        base_path: str = "/fhir",
        identify: Identify = certificate_ura,
        subscriptions: SubscriptionServerCore | None = None,
        topic: str | None = None,
    ) -> None:
        if subscriptions is None and topic is not None:
            raise ValueError("a topic needs subscriptions")
        self.placer_ura = placer_ura
        self.store = store if store is not None else MemoryFhirStore()
        self.fhir = FhirStoreServer(
            self.store, FhirVersion.R4, base_path=base_path, entry_handler=self.handle
        )
        self.subscriptions = subscriptions
        self.topic = topic
        self._identify = identify
        self._local = threading.local()

    def __call__(self, request: IncomingRequest) -> Answer:
        return self.handle(request)

    def handle(self, request: IncomingRequest) -> Answer:
        """Subscriptions to the core; Task writes vetted, stored and published; the rest from the store."""
        segs = [p for p in request.path[len(self.fhir.base_path) :].split("/") if p]
        if self.subscriptions is not None and segs[:1] == ["Subscription"]:
            return self.subscriptions.handle(request)
        if not segs and request.method.upper() == "POST":
            return self._bundle(request)
        method = request.method.upper()
        if method in ("GET", "HEAD") or (method == "POST" and segs[-1:] == ["_search"]):
            return self.fhir.handle(request)
        task_write = segs[:1] == ["Task"] and method in ("POST", "PUT", "PATCH") and len(segs) <= 2
        if not task_write:
            return self._placer_only(request)
        refusal = self._vet(request, segs)
        if refusal is not None:
            return refusal
        answer = self.fhir.handle(request)
        if answer.status in (200, 201) and answer.body:
            self._publish(answer.json_body(), request.method.upper())
        return answer

    def _placer_only(self, request: IncomingRequest) -> Answer:
        """Every other write (other resources, deleting a Task) is the placer's own business."""
        if self._identify(request) != self.placer_ura:
            return Answer.outcome(403, "forbidden", "only the placer writes here besides Task updates")
        return self.fhir.handle(request)

    def _bundle(self, request: IncomingRequest) -> Answer:
        """A batch/transaction: Task changes are published once it succeeded (never for a rollback)."""
        if getattr(self._local, "deferred", None) is not None:
            return Answer.outcome(400, "not-supported", "nested batch/transaction Bundles are not supported")
        deferred: list[tuple[dict[str, Any], str]] = []
        self._local.deferred = deferred
        try:
            answer = self.fhir.handle(request)
        finally:
            self._local.deferred = None
        if answer.status < 400:
            for task, method in deferred:
                self._publish(task, method)
        return answer

    def _publish(self, task: dict[str, Any], method: str) -> None:
        if self.subscriptions is None:
            return
        deferred = getattr(self._local, "deferred", None)
        if deferred is not None:
            deferred.append((task, method))
            return
        owner = task.get("owner")
        ident = owner.get("identifier") if isinstance(owner, dict) else None
        filters = {}
        if isinstance(ident, dict) and ident.get("value"):
            filters["owner:identifier"] = f"{ident.get('system', '')}|{ident['value']}"
        topics = {self.topic} if self.topic else {r.topic for r in list(self.subscriptions.records.values())}
        for topic in sorted(topics):
            self.subscriptions.publish(
                topic, focus=f"Task/{task.get('id')}", now=datetime.now(UTC), resource=task,
                filters=filters, method="POST" if method == "POST" else "PUT",
            )  # fmt: skip

    def _vet(self, request: IncomingRequest, segs: list[str]) -> Answer | None:
        method = request.method.upper()
        caller = self._identify(request)
        if caller is None:
            return Answer.outcome(403, "forbidden", "Task writes need a UZI server certificate naming a URA")
        stored = None
        if method in ("PUT", "PATCH") and len(segs) == 2:
            current = self.store.current("Task", segs[1])
            stored = current.resource if current else None
        return guard_task_write(request, stored=stored, requester_ura=caller, placer_ura=self.placer_ura)


def loopback_only(endpoint: str) -> bool:
    """True for an ``https`` rest-hook on 127.0.0.1 or localhost (the sandbox pushes nowhere else)."""
    parts = urlsplit(endpoint)
    return parts.scheme == "https" and parts.hostname in ("127.0.0.1", "localhost", "::1")


@contextmanager
def background_dispatch(
    dispatcher: Dispatcher, interval: float = 0.2, *, deliverable: Callable[[str], bool] = loopback_only
) -> Iterator[threading.Thread]:
    """Deliver ``dispatcher``'s queue (and due heartbeats) every ``interval`` seconds until the block ends.

    A delivery to an endpoint ``deliverable`` refuses is not attempted: it counts as failed (the
    Subscription goes to ``error``; its events stay available through ``$events``).
    """
    stop = threading.Event()
    core = dispatcher.core

    def deliver_round() -> None:
        core.due_heartbeats(datetime.now(UTC))
        for delivery in core.take_pending():
            if stop.is_set():
                break
            if not deliverable(delivery.endpoint):
                log.warning("not delivering to a rest-hook outside the sandbox (subscription %s)",
                            delivery.subscription_id)  # fmt: skip
                core.delivered(delivery, False, datetime.now(UTC))
                continue
            try:
                dispatcher.deliver(delivery)
            except Exception as exc:  # keep delivering: one bad delivery must not end the thread
                log.error("notification delivery failed: %s", type(exc).__name__)
                core.delivered(delivery, False, datetime.now(UTC))

    def run() -> None:
        while not stop.wait(interval):
            deliver_round()

    thread = threading.Thread(target=run, name="twiin-notification-dispatch", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=30)
