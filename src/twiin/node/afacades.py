"""Async twins of :mod:`twiin.node.facades` for :class:`~twiin.node.AsyncNode`.

The Notified Pull cores resolve endpoints synchronously (a static book or directory cache
answers in microseconds; a live directory lookup blocks briefly), so :class:`AsyncNotifiedPull`
uses the node's synchronous resolver for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from twiin._http import create_async_client
from twiin._http.compat import httpx
from twiin.addressing import PayloadType
from twiin.exchange.notifications import (
    AsyncNotificationReceiver,
    AsyncSubscriptionClient,
    ReceivedEvent,
    ReceiverCore,
)
from twiin.exchange.notified_pull import (
    AsyncNotificationSender,
    AsyncPuller,
    Notification,
    PullCore,
    PullResult,
    QueryInput,
    ReadInput,
    Receipt,
    SenderCore,
)
from twiin.exchange.workflow import AssignedId, AsyncFulfiller, AsyncPlacer
from twiin.fhir import AsyncFhirClient, FhirVersion
from twiin.identifiers import Bsn, Ura
from twiin.node.facades import pull_auth_for
from twiin.node.serving import ServerBlocks
from twiin.serving import Answer, IncomingRequest
from twiin.usecases.bgz import BgzQuery

if TYPE_CHECKING:
    from twiin.node.aio import AsyncNode

__all__ = ["AsyncNotifications", "AsyncNotifiedPull", "AsyncWorkflow"]


class AsyncNotifiedPull:
    """Async TA Notified Pull for this node; the server-side blocks are the synchronous ones."""

    def __init__(self, node: AsyncNode, *, concurrency: int = 8) -> None:
        self._node = node
        self.server = ServerBlocks(node)
        self.receiver = self.server.receiver()
        self._concurrency = concurrency
        self._sender: AsyncNotificationSender | None = None
        self._puller: AsyncPuller | None = None

    def _client(self) -> httpx.AsyncClient:
        return create_async_client(ssl_context=self._node.ssl_context())

    @property
    def sender(self) -> AsyncNotificationSender:
        """The async sender facade."""
        if self._sender is None:
            node = self._node
            core = SenderCore(node.ura, node.system, node.sync_directory, self.server.bases,
                              auditor=node.auditor, auth_for=node.auth_for_peer)  # fmt: skip
            self._sender = AsyncNotificationSender(core, client=self._client())
        return self._sender

    @property
    def puller(self) -> AsyncPuller:
        """The async pull facade."""
        if self._puller is None:
            node = self._node
            core = PullCore(node.sync_directory, pull_auth_for(node), auditor=node.auditor,
                            concurrency=self._concurrency)  # fmt: skip
            self._puller = AsyncPuller(core, client=self._client())
        return self._puller

    async def notify(self, receiver: Ura, patient: Bsn, queries: Sequence[BgzQuery | QueryInput] = (),
                     *, reads: Sequence[ReadInput | str] = (), **options: Any) -> Receipt:  # fmt: skip
        """Issue an authorization base and send a Notification Task to ``receiver``."""
        return await self.sender.notify(receiver, patient, queries, reads=reads, **options)

    async def update(self, previous: Receipt, queries: Sequence[BgzQuery | QueryInput] = ()) -> Receipt:
        """A new Notification Task for an updated data set (same ``groupIdentifier``)."""
        return await self.sender.update(previous, queries)

    async def cancel(self, receipt: Receipt) -> int:
        """Revoke the authorization base and cancel the Task at the receiver."""
        return await self.sender.cancel(receipt)

    def accept(self, request: IncomingRequest) -> tuple[Notification | None, Answer]:
        """Validate, audit and store an incoming Notification Task (synchronous, no I/O)."""
        return self.receiver.accept(request)

    async def pull(self, notification: Notification) -> PullResult:
        """Pull everything ``notification`` offers from its sender."""
        return await self.puller.pull(notification)

    async def close(self) -> None:
        """Close the HTTP clients made so far (each, even when another fails to close)."""
        async with AsyncExitStack() as stack:
            for facade in (self._sender, self._puller):
                if facade is not None:
                    stack.push_async_callback(facade.close)


class _AsyncClients:
    """Keeps the FHIR clients a facade made so the node's ``close()`` closes them."""

    def __init__(self, node: AsyncNode) -> None:
        self._node = node
        self._clients: list[AsyncFhirClient] = []

    async def _fhir(self, ura_or_url: Ura | str, **options: Any) -> AsyncFhirClient:
        client = await self._node.fhir(ura_or_url, version=FhirVersion.R4, **options)
        self._clients.append(client)
        return client

    async def close(self) -> None:
        """Close the FHIR clients made so far."""
        while self._clients:
            await self._clients.pop().close()


class AsyncNotifications(_AsyncClients):
    """Async TA Notifications: subscription clients and the rest-hook receiver."""

    async def subscriptions(
        self, ura_or_url: Ura | str, *, payload_type: PayloadType | str | None = None,
        auth: httpx.Auth | None = None,
    ) -> AsyncSubscriptionClient:  # fmt: skip
        """A subscription client for a data holder's R4 FHIR base (closed with the node)."""
        fhir = await self._fhir(ura_or_url, payload_type=payload_type, auth=auth, raw=True)
        return AsyncSubscriptionClient(fhir)

    def receiver(
        self,
        on_event: Callable[[ReceivedEvent], Awaitable[None]],
        client: AsyncSubscriptionClient | None = None,
    ) -> AsyncNotificationReceiver:
        """Our rest-hook endpoint block (``await handle(request) -> Answer``).

        With ``client``, a handshake for a new Subscription at its data holder registers that
        Subscription (it may come before ``client.create`` returns); other notifications are
        accepted for registered Subscriptions only.
        """
        core = ReceiverCore(holders=(client.base_url,) if client is not None else ())
        return AsyncNotificationReceiver(on_event, client, core=core)


class AsyncWorkflow(_AsyncClients):
    """Async TA Workflow: the Placer and the Fulfiller halves."""

    async def placer(
        self, url: str, *, identifier_system: str, auth: httpx.Auth | None = None
    ) -> AsyncPlacer:
        """The Placer over its own FHIR server at ``url``."""
        client = await self._fhir(url, auth=auth)
        return AsyncPlacer(client, ura=self._node.ura, identifier_system=identifier_system,
                           auditor=self._node.auditor)  # fmt: skip

    async def fulfiller(
        self, url: str, *, owner: AssignedId, auth: httpx.Auth | None = None
    ) -> AsyncFulfiller:
        """A Fulfiller for HealthcareService ``owner`` over the Placer at ``url``."""
        client = await self._fhir(url, auth=auth)
        return AsyncFulfiller(client, owner=owner, auditor=self._node.auditor)
