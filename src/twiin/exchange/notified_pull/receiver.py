"""Receiver half, server side: accept a Notification Task (create) or its cancellation.

:class:`NotificationReceiver` is a framework-agnostic block: it takes an
:class:`~twiin.serving.IncomingRequest` for ``POST [base]/Task`` (a new notification) or
``PUT [base]/Task?identifier=<system>|<value>`` (the sender's cancellation) and returns the
typed :class:`Notification` (or ``None`` when refused) together with the :class:`Answer` to send:
201/200, or 400/403/404/409/422 with an OperationOutcome. Repeated identifiers are idempotent.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import attrs
from cryptography import x509

from twiin.audit import Auditor
from twiin.errors import AuthError, InvalidTokenError, NotificationError
from twiin.exchange.notified_pull.ports import certificate_ura
from twiin.exchange.notified_pull.task import NotificationTask
from twiin.exchange.notified_pull.task_parse import TaskIssue, parse_notification_task, task_to_dict
from twiin.identifiers import Ura
from twiin.redaction import get_logger
from twiin.serving import Answer, IncomingRequest

__all__ = ["MemoryInbox", "Notification", "NotificationInbox", "NotificationReceiver"]

log = get_logger(__name__)


@attrs.frozen
class Notification:
    """An accepted Notification Task, as the receiver keeps it."""

    task: NotificationTask
    local_id: str
    sender: Ura
    received_at: datetime
    warnings: tuple[TaskIssue, ...] = ()
    duplicate: bool = False

    @property
    def cancelled(self) -> bool:
        """True once the sender cancelled this notification."""
        return self.task.status == "cancelled"


class NotificationInbox(Protocol):
    """Where the receiver keeps notifications, keyed by ``identifier`` token (``system|value``)."""

    def get(self, identifier_token: str) -> Notification | None:
        """The stored notification, if any."""
        ...

    def put(self, notification: Notification) -> None:
        """Store or replace."""
        ...


class MemoryInbox:
    """A thread-safe in-memory inbox (tests, sandbox, small deployments)."""

    def __init__(self) -> None:
        self._items: dict[str, Notification] = {}
        self._lock = threading.Lock()

    def get(self, identifier_token: str) -> Notification | None:
        with self._lock:
            return self._items.get(identifier_token)

    def put(self, notification: Notification) -> None:
        with self._lock:
            self._items[notification.task.identifier_token] = notification

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def _outcome(status: int, issues: list[dict[str, Any]]) -> Answer:
    return Answer.fhir(status, {"resourceType": "OperationOutcome", "issue": issues})


def _refuse(status: int, code: str, message: str) -> tuple[None, Answer]:
    return None, Answer.outcome(status, code, message)


class NotificationReceiver:
    """Validates, deduplicates, audits and stores incoming Notification Tasks for ``our_ura``."""

    def __init__(
        self,
        our_ura: Ura,
        *,
        inbox: NotificationInbox | None = None,
        auditor: Auditor | None = None,
        lenient: bool = False,
        peer_ura: Callable[[x509.Certificate | None], Ura] = certificate_ura,
        access: Callable[[str, x509.Certificate | None], Ura] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.our_ura = our_ura
        self.inbox: NotificationInbox = inbox if inbox is not None else MemoryInbox()
        self.auditor = auditor
        self.lenient = lenient
        self._peer_ura = peer_ura
        self._access = access
        self._clock = clock
        self._lock = threading.Lock()

    def accept(self, request: IncomingRequest) -> tuple[Notification | None, Answer]:
        """Handle ``POST Task`` (new notification) or ``PUT Task?identifier=`` (cancellation)."""
        try:
            peer = self._peer_ura(request.peer_certificate)
        except (InvalidTokenError, ValueError):
            self._audit("notified-pull.accept", "denied", None, None, "no UZI URA in TLS peer")
            return _refuse(403, "security", "TLS client certificate carries no URA")
        refused = self._check_token(request, peer)
        if refused is not None:
            return None, refused
        method = request.method.upper()
        if method == "POST":
            return self._create(request, peer)
        if method == "PUT":
            return self._cancel(request, peer)
        return _refuse(405, "not-supported", "only POST Task and conditional PUT Task are supported")

    def _check_token(self, request: IncomingRequest, peer: Ura) -> Answer | None:
        if self._access is None:
            return None
        token = request.bearer_token()
        if token is None:
            self._audit("notified-pull.accept", "denied", peer, None, "no access token")
            return Answer.outcome(401, "login", "access token required")
        try:
            client = self._access(token, request.peer_certificate)
        except AuthError:
            self._audit("notified-pull.accept", "denied", peer, None, "invalid access token")
            return Answer.outcome(401, "login", "access token is invalid or expired")
        if client != peer:
            self._audit("notified-pull.accept", "denied", peer, None, "token of another organisation")
            return Answer.outcome(403, "forbidden", "access token was issued to another organisation")
        return None

    def _parse(self, request: IncomingRequest) -> tuple[NotificationTask, tuple[TaskIssue, ...]]:
        parsed = parse_notification_task(
            request.body, content_type=request.content_type, lenient=self.lenient
        )
        return parsed.task, parsed.warnings

    def _create(self, request: IncomingRequest, peer: Ura) -> tuple[Notification | None, Answer]:
        try:
            task, warnings = self._parse(request)
        except NotificationError as exc:
            self._audit("notified-pull.accept", "failure", peer, None, exc.message)
            issues = [i.to_fhir() for i in exc.issues] or [
                {"severity": "error", "code": "invalid", "diagnostics": exc.message}
            ]
            return None, _outcome(exc.status, issues)
        if task.owner_ura != self.our_ura:
            self._audit("notified-pull.accept", "denied", peer, task, "owner is not this organisation")
            return _refuse(403, "forbidden", "Task.owner is not this organisation")
        if task.sender_ura != peer:
            self._audit("notified-pull.accept", "denied", peer, task, "onBehalfOf does not match TLS peer")
            return _refuse(
                403, "forbidden", "Task.requester.onBehalfOf does not match the TLS client certificate"
            )
        if task.status == "cancelled":
            return _refuse(422, "business-rule", "a new Notification Task cannot be cancelled")
        if task.is_expired(self._clock()):
            self._audit("notified-pull.accept", "failure", peer, task, "expired")
            return _refuse(422, "business-rule", "Task.restriction.period.end has passed")
        with self._lock:
            existing = self.inbox.get(task.identifier_token)
            if existing is not None:
                if existing.sender != peer:
                    return _refuse(409, "conflict", "identifier already used by another sender")
                if existing.cancelled:
                    self._audit("notified-pull.accept", "failure", peer, task, "notification was cancelled")
                    return _refuse(422, "business-rule", "this notification was cancelled")
                self._audit("notified-pull.accept", "success", peer, task, "duplicate")
                dup = attrs.evolve(existing, duplicate=True)
                return dup, self._created(200, dup)
            notification = Notification(task, str(uuid.uuid4()), peer, self._clock(), warnings)
            self.inbox.put(notification)
        self._audit(
            "notified-pull.accept", "success", peer, task, f"{len(warnings)} warnings" if warnings else None
        )
        return notification, self._created(201, notification)

    def _cancel(self, request: IncomingRequest, peer: Ura) -> tuple[Notification | None, Answer]:
        token = next((v for k, v in request.query if k == "identifier"), None)
        if not request.path.rstrip("/").endswith("/Task") or not token or "|" not in token:
            return _refuse(400, "invalid", "cancellation must be PUT Task?identifier=<system>|<value>")
        try:
            body = task_to_dict(request.body, request.content_type)
        except NotificationError as exc:
            return _refuse(exc.status, "invalid", exc.message)
        if body.get("resourceType") != "Task" or body.get("status") != "cancelled":
            return _refuse(422, "business-rule", "conditional update must set status 'cancelled'")
        with self._lock:
            existing = self.inbox.get(token)
            if existing is None:
                return _refuse(404, "not-found", "no notification with this identifier")
            if existing.sender != peer:
                self._audit("notified-pull.cancel", "denied", peer, existing.task, "not the original sender")
                return _refuse(403, "forbidden", "only the original sender may cancel a notification")
            cancelled = attrs.evolve(existing, task=existing.task.cancellation(), duplicate=False)
            self.inbox.put(cancelled)
        self._audit("notified-pull.cancel", "success", peer, cancelled.task, None)
        return cancelled, self._created(200, cancelled)

    def _created(self, status: int, notification: Notification) -> Answer:
        resource = notification.task.to_fhir()
        resource["id"] = notification.local_id
        resource.pop("input", None)  # never echo the authorization base
        return Answer.fhir(status, resource, location=f"Task/{notification.local_id}/_history/1")

    def _audit(
        self, action: str, outcome: Any, peer: Ura | None, task: NotificationTask | None, detail: str | None
    ) -> None:
        if self.auditor is None:
            return
        self.auditor.record(
            action,
            outcome,
            patient=task.patient if task else None,
            peer=peer,
            resource=f"Task?identifier={task.identifier}" if task else "Task",
            correlation_id=task.group_identifier if task else None,
            detail=detail,
        )
