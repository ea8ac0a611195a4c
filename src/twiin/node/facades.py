"""Thin synchronous facades a :class:`~twiin.node.Node` exposes per exchange pattern.

Each only wires the existing building blocks with the node's identity, TLS, addressing, token
flows and auditor: :class:`NotifiedPull` (sender notify/update/cancel, receiver accept/pull,
plus the server-side blocks), :class:`Notifications` (TA Notifications subscription client and
rest-hook receiver) and :class:`Workflow` (TA Workflow Placer and Fulfiller).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from twiin._http import create_client
from twiin._http.compat import httpx
from twiin.addressing import PayloadType
from twiin.exchange.notifications import NotificationReceiver as HookReceiver
from twiin.exchange.notifications import ReceivedEvent, ReceiverCore, SubscriptionClient
from twiin.exchange.notified_pull import (
    Notification,
    NotificationSender,
    NotificationTask,
    PullCore,
    Puller,
    PullResult,
    QueryInput,
    ReadInput,
    Receipt,
    SenderCore,
)
from twiin.exchange.workflow import AssignedId, Fulfiller, Placer
from twiin.fhir import FhirClient, FhirVersion
from twiin.identifiers import Bsn, Ura
from twiin.node.base import NodeBase
from twiin.node.serving import ServerBlocks
from twiin.serving import Answer, IncomingRequest
from twiin.usecases.bgz import BgzQuery

if TYPE_CHECKING:
    from twiin.node.sync import Node

__all__ = ["Notifications", "NotifiedPull", "Workflow"]


def pull_auth_for(node: NodeBase) -> Callable[[NotificationTask, str], httpx.Auth]:
    """The JWT-bearer token auth carrying a notification's authorization base, per sender base URL."""

    def auth(task: NotificationTask, base_url: str) -> httpx.Auth:
        sender = task.on_behalf_of.ura
        token_url = node.token_url_for(sender, base_url)
        return node.token_auth(token_url, authorization_base=task.authorization_base)

    return auth


class NotifiedPull:
    """TA Notified Pull for this node: both halves, client and server side."""

    def __init__(self, node: Node, *, concurrency: int = 8) -> None:
        self._node = node
        self.server = ServerBlocks(node)
        self.receiver = self.server.receiver()
        self._concurrency = concurrency
        self._sender: NotificationSender | None = None
        self._puller: Puller | None = None

    def _client(self) -> httpx.Client:
        return create_client(ssl_context=self._node.ssl_context())

    @property
    def sender(self) -> NotificationSender:
        """The sender facade (resolves receivers through ``node.directory``)."""
        if self._sender is None:
            node = self._node
            core = SenderCore(node.ura, node.system, node.directory, self.server.bases,
                              auditor=node.auditor, auth_for=node.auth_for_peer)  # fmt: skip
            self._sender = NotificationSender(core, client=self._client())
        return self._sender

    @property
    def puller(self) -> Puller:
        """The pull facade (token with the authorization base, concurrent queries, paging)."""
        if self._puller is None:
            node = self._node
            core = PullCore(node.directory, pull_auth_for(node), auditor=node.auditor,
                            concurrency=self._concurrency)  # fmt: skip
            self._puller = Puller(core, client=self._client())
        return self._puller

    def notify(self, receiver: Ura, patient: Bsn, queries: Sequence[BgzQuery | QueryInput] = (),
               *, reads: Sequence[ReadInput | str] = (), **options: Any) -> Receipt:  # fmt: skip
        """Issue an authorization base and send a Notification Task to ``receiver``."""
        return self.sender.notify(receiver, patient, queries, reads=reads, **options)

    def update(self, previous: Receipt, queries: Sequence[BgzQuery | QueryInput] = ()) -> Receipt:
        """A new Notification Task for an updated data set (same ``groupIdentifier``)."""
        return self.sender.update(previous, queries)

    def cancel(self, receipt: Receipt) -> int:
        """Revoke the authorization base and cancel the Task at the receiver."""
        return self.sender.cancel(receipt)

    def accept(self, request: IncomingRequest) -> tuple[Notification | None, Answer]:
        """Validate, audit and store an incoming Notification Task (or its cancellation)."""
        return self.receiver.accept(request)

    def pull(self, notification: Notification) -> PullResult:
        """Pull everything ``notification`` offers from its sender."""
        return self.puller.pull(notification)

    def close(self) -> None:
        """Close the HTTP clients made so far (each, even when another fails to close)."""
        with ExitStack() as stack:
            for facade in (self._sender, self._puller):
                if facade is not None:
                    stack.callback(facade.close)


class _Clients:
    """Keeps the FHIR clients a facade made so the node's ``close()`` closes them."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._clients: list[FhirClient] = []

    def _fhir(self, ura_or_url: Ura | str, **options: Any) -> FhirClient:
        client = self._node.fhir(ura_or_url, version=FhirVersion.R4, **options)
        self._clients.append(client)
        return client

    def close(self) -> None:
        """Close the FHIR clients made so far."""
        while self._clients:
            self._clients.pop().close()


class Notifications(_Clients):
    """TA Notifications (R4): subscription clients to data holders and our rest-hook receiver."""

    def subscriptions(
        self, ura_or_url: Ura | str, *, payload_type: PayloadType | str | None = None,
        auth: httpx.Auth | None = None,
    ) -> SubscriptionClient:  # fmt: skip
        """A subscription client for a data holder's R4 FHIR base (closed with the node)."""
        return SubscriptionClient(self._fhir(ura_or_url, payload_type=payload_type, auth=auth, raw=True))

    def receiver(
        self, on_event: Callable[[ReceivedEvent], None], client: SubscriptionClient | None = None
    ) -> HookReceiver:
        """Our rest-hook endpoint block (``handle(request) -> Answer``).

        With ``client``, a handshake for a new Subscription at its data holder registers that
        Subscription (it may come before ``client.create`` returns); other notifications are
        accepted for registered Subscriptions only.
        """
        core = ReceiverCore(holders=(client.base_url,) if client is not None else ())
        return HookReceiver(on_event, client, core=core)


class Workflow(_Clients):
    """TA Workflow (R4): the Placer and the Fulfiller halves over a Placer's FHIR base."""

    def placer(self, url: str, *, identifier_system: str, auth: httpx.Auth | None = None) -> Placer:
        """The Placer over its own FHIR server at ``url``."""
        client = self._fhir(url, auth=auth)
        return Placer(client, ura=self._node.ura, identifier_system=identifier_system,
                      auditor=self._node.auditor)  # fmt: skip

    def fulfiller(self, url: str, *, owner: AssignedId, auth: httpx.Auth | None = None) -> Fulfiller:
        """A Fulfiller for HealthcareService ``owner`` over the Placer at ``url``."""
        client = self._fhir(url, auth=auth)
        return Fulfiller(client, owner=owner, auditor=self._node.auditor)
