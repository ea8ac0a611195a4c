"""Sender half, client side: notify, update and cancel (sync and async facades over one core).

``notify`` resolves the receiver's notification endpoint (payload type ``Twiin-TA-notification``),
issues the authorization base for exactly the given reads and searches, builds the STU3
Notification Task, POSTs it over mTLS with the receiver's token and audits. ``update`` is a new
Task with the same ``groupIdentifier``; ``cancel`` revokes the authorization base first and then
sends the conditional update ``PUT Task?identifier=<system>|<value>`` with ``status = cancelled``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import timedelta
from urllib.parse import quote

import attrs

from twiin._http import asend, create_async_client, create_client, send
from twiin._http.compat import httpx
from twiin.audit import Auditor, Outcome
from twiin.auth.server import AuthorizationBase, AuthorizationBaseStore
from twiin.errors import TwiinError
from twiin.exchange.notified_pull.http_core import ACCEPT, check_response, resolve_target
from twiin.exchange.notified_pull.ports import NOTIFICATION_PAYLOAD, AuthFor, EndpointResolver
from twiin.exchange.notified_pull.task import (
    NotificationTask,
    PartyId,
    QueryInput,
    ReadInput,
    build_notification_task,
)
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Bsn, Ura
from twiin.usecases.bgz import BgzQuery

__all__ = ["AsyncNotificationSender", "NotificationSender", "Receipt", "SenderCore"]


@attrs.frozen(repr=False)
class Receipt:
    """A sent notification: the Task, where it went, the receiver's answer and the authorization base."""

    task: NotificationTask
    receiver: Ura
    endpoint: str
    status: int
    location: str | None
    authorization_base: AuthorizationBase

    def __repr__(self) -> str:
        return f"Receipt(task={self.task.identifier!r}, status={self.status})"


@attrs.define
class SenderCore:
    """The I/O-free part of the sender: planning, Task building, requests, receipts, audit."""

    our_ura: Ura
    sending_system: PartyId
    resolver: EndpointResolver
    bases: AuthorizationBaseStore
    auditor: Auditor | None = None
    auth_for: AuthFor | None = None
    validity: timedelta = timedelta(days=7)

    def endpoint(self, receiver: Ura) -> str:
        """The receiver's notification endpoint base URL."""
        found = self.resolver.resolve(receiver, NOTIFICATION_PAYLOAD, fhir_version=FhirVersion.STU3)
        return found[0].address

    def prepare(
        self,
        receiver: Ura,
        patient: Bsn,
        queries: Iterable[BgzQuery | QueryInput],
        reads: Iterable[ReadInput | str],
        *,
        group_identifier: str | None,
        based_on: str | None,
        get_workflow_task: bool,
    ) -> tuple[NotificationTask, AuthorizationBase]:
        """Issue the authorization base and build the Task for it."""
        query_inputs = [QueryInput.from_bgz(q) if isinstance(q, BgzQuery) else q for q in queries]
        read_inputs = [ReadInput(r) if isinstance(r, str) else r for r in reads]
        allowed_reads: list[str] = [r.reference for r in read_inputs]
        if get_workflow_task and based_on:
            allowed_reads.append(based_on)
        allowed = [*allowed_reads, *(q.query for q in query_inputs)]
        record = self.bases.issue(patient, receiver, allowed, ttl=self.validity, sender=self.our_ura)
        task = build_notification_task(
            sender=self.our_ura, receiver=receiver, sending_system=self.sending_system, patient=patient,
            queries=query_inputs, reads=read_inputs, authorization_base=record.value,
            valid_for=self.validity, group_identifier=group_identifier, based_on=based_on,
            get_workflow_task=get_workflow_task,
        )  # fmt: skip
        return task, record

    def create_request(self, endpoint: str, task: NotificationTask) -> httpx.Request:
        """``POST [endpoint]/Task``."""
        body = json.dumps(task.to_fhir()).encode("utf-8")
        headers = {**ACCEPT, "Content-Type": "application/fhir+json"}
        return httpx.Request("POST", resolve_target(endpoint, "Task"), headers=headers, content=body)

    def cancel_request(self, endpoint: str, task: NotificationTask) -> httpx.Request:
        """``PUT [endpoint]/Task?identifier=<system>|<value>`` with ``status = cancelled``."""
        body = {
            "resourceType": "Task",
            "identifier": [{"system": task.identifier_system, "value": task.identifier}],
            "status": "cancelled",
            "intent": task.intent,
        }
        url = resolve_target(endpoint, "Task") + "?identifier=" + quote(task.identifier_token, safe="")
        headers = {**ACCEPT, "Content-Type": "application/fhir+json"}
        return httpx.Request("PUT", url, headers=headers, content=json.dumps(body).encode("utf-8"))

    def auth(self, receiver: Ura, endpoint: str) -> httpx.Auth | None:
        """The token auth for the receiver's endpoint, if configured."""
        return self.auth_for(receiver, endpoint) if self.auth_for else None

    def audit(
        self, action: str, outcome: Outcome, task: NotificationTask, receiver: Ura, detail: str | None
    ) -> None:
        """Record one sender step."""
        if self.auditor is not None:
            self.auditor.record(
                action, outcome, patient=task.patient, peer=receiver,
                resource=f"Task?identifier={task.identifier}", correlation_id=task.group_identifier,
                detail=detail,
            )  # fmt: skip


class NotificationSender:
    """Synchronous sender facade."""

    def __init__(
        self, core: SenderCore, *, client: httpx.Client | None = None, **client_options: object
    ) -> None:
        self.core = core
        self._client = client or create_client(**client_options)  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def __enter__(self) -> NotificationSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def notify(
        self,
        receiver: Ura,
        patient: Bsn,
        queries: Sequence[BgzQuery | QueryInput] = (),
        *,
        reads: Sequence[ReadInput | str] = (),
        group_identifier: str | None = None,
        based_on: str | None = None,
        get_workflow_task: bool = False,
    ) -> Receipt:
        """Issue an authorization base and POST a Notification Task to ``receiver``."""
        endpoint = self.core.endpoint(receiver)
        task, record = self.core.prepare(
            receiver, patient, queries, reads,
            group_identifier=group_identifier, based_on=based_on, get_workflow_task=get_workflow_task,
        )  # fmt: skip
        try:
            response = send(
                self._client,
                self.core.create_request(endpoint, task),
                auth=self.core.auth(receiver, endpoint),
            )
            check_response(response)
        except TwiinError as exc:
            self.core.bases.revoke(record.value)
            self.core.audit("notified-pull.notify", "failure", task, receiver, type(exc).__name__)
            raise
        self.core.audit("notified-pull.notify", "success", task, receiver, None)
        return Receipt(
            task, receiver, endpoint, response.status_code, response.headers.get("location"), record
        )

    def update(self, previous: Receipt, queries: Sequence[BgzQuery | QueryInput] = (), *,
               reads: Sequence[ReadInput | str] = ()) -> Receipt:  # fmt: skip
        """A new Notification Task for an updated data set (same ``groupIdentifier``)."""
        task = previous.task
        assert task.patient is not None, "a notification without a patient cannot be updated"
        return self.notify(
            previous.receiver, task.patient, queries or task.queries, reads=reads or task.reads,
            group_identifier=task.group_identifier, based_on=task.based_on,
            get_workflow_task=task.get_workflow_task,
        )  # fmt: skip

    def cancel(self, receipt: Receipt) -> int:
        """Revoke the authorization base, then cancel the Task at the receiver; returns the HTTP status."""
        self.core.bases.revoke(receipt.authorization_base.value)
        request = self.core.cancel_request(receipt.endpoint, receipt.task)
        try:
            response = send(self._client, request, auth=self.core.auth(receipt.receiver, receipt.endpoint))
            check_response(response)
        except TwiinError as exc:
            self.core.audit(
                "notified-pull.cancel", "failure", receipt.task, receipt.receiver, type(exc).__name__
            )
            raise
        self.core.audit("notified-pull.cancel", "success", receipt.task, receipt.receiver, None)
        return response.status_code


class AsyncNotificationSender:
    """Asynchronous sender facade (same methods as :class:`NotificationSender`)."""

    def __init__(
        self, core: SenderCore, *, client: httpx.AsyncClient | None = None, **client_options: object
    ) -> None:
        self.core = core
        self._client = client or create_async_client(**client_options)  # type: ignore[arg-type]

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def __aenter__(self) -> AsyncNotificationSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def notify(
        self,
        receiver: Ura,
        patient: Bsn,
        queries: Sequence[BgzQuery | QueryInput] = (),
        *,
        reads: Sequence[ReadInput | str] = (),
        group_identifier: str | None = None,
        based_on: str | None = None,
        get_workflow_task: bool = False,
    ) -> Receipt:
        """Issue an authorization base and POST a Notification Task to ``receiver``."""
        endpoint = self.core.endpoint(receiver)
        task, record = self.core.prepare(
            receiver, patient, queries, reads,
            group_identifier=group_identifier, based_on=based_on, get_workflow_task=get_workflow_task,
        )  # fmt: skip
        try:
            response = await asend(
                self._client,
                self.core.create_request(endpoint, task),
                auth=self.core.auth(receiver, endpoint),
            )
            check_response(response)
        except TwiinError as exc:
            self.core.bases.revoke(record.value)
            self.core.audit("notified-pull.notify", "failure", task, receiver, type(exc).__name__)
            raise
        self.core.audit("notified-pull.notify", "success", task, receiver, None)
        return Receipt(
            task, receiver, endpoint, response.status_code, response.headers.get("location"), record
        )

    async def update(self, previous: Receipt, queries: Sequence[BgzQuery | QueryInput] = (), *,
                     reads: Sequence[ReadInput | str] = ()) -> Receipt:  # fmt: skip
        """A new Notification Task for an updated data set (same ``groupIdentifier``)."""
        task = previous.task
        assert task.patient is not None, "a notification without a patient cannot be updated"
        return await self.notify(
            previous.receiver, task.patient, queries or task.queries, reads=reads or task.reads,
            group_identifier=task.group_identifier, based_on=task.based_on,
            get_workflow_task=task.get_workflow_task,
        )  # fmt: skip

    async def cancel(self, receipt: Receipt) -> int:
        """Revoke the authorization base, then cancel the Task at the receiver; returns the HTTP status."""
        self.core.bases.revoke(receipt.authorization_base.value)
        request = self.core.cancel_request(receipt.endpoint, receipt.task)
        try:
            response = await asend(
                self._client, request, auth=self.core.auth(receipt.receiver, receipt.endpoint)
            )
            check_response(response)
        except TwiinError as exc:
            self.core.audit(
                "notified-pull.cancel", "failure", receipt.task, receipt.receiver, type(exc).__name__
            )
            raise
        self.core.audit("notified-pull.cancel", "success", receipt.task, receipt.receiver, None)
        return response.status_code
