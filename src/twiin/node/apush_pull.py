"""Async twins of :mod:`twiin.node.push_pull` for :class:`~twiin.node.AsyncNode`.

The cores resolve and ask consent synchronously, so they get the node's synchronous resolver
and consent checker (as the async Notified Pull does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twiin.addressing import PayloadType
from twiin.exchange.pull import AsyncDirectPuller, DirectPullResult
from twiin.exchange.push import AsyncPusher, PushReceipt
from twiin.identifiers import Bsn, Ura
from twiin.node.push_pull import Queries, pull_core, push_core

if TYPE_CHECKING:
    from twiin.node.aio import AsyncNode

__all__ = ["AsyncPull", "AsyncPush"]


class AsyncPush:
    """Async Push ("gericht verzenden")."""

    def __init__(self, node: AsyncNode) -> None:
        self._node = node
        self._pusher: AsyncPusher | None = None

    @property
    def pusher(self) -> AsyncPusher:
        """The async Push facade (built on first use)."""
        if self._pusher is None:
            node = self._node
            core = push_core(node, node.sync_directory, node.sync_consent)
            self._pusher = AsyncPusher(core, ssl_context=node.ssl_context())
        return self._pusher

    async def send(
        self, receiver: Ura, bundle: Any, payload_type: PayloadType | str, *, patient: Bsn
    ) -> PushReceipt:
        """Check consent for ``patient``, then POST ``bundle`` to ``receiver``'s ``payload_type`` endpoint."""
        return await self.pusher.push(receiver, bundle, payload_type, patient=patient)

    async def close(self) -> None:
        """Close the HTTP client made so far."""
        if self._pusher is not None:
            await self._pusher.close()


class AsyncPull:
    """Async Pull ("gericht bevragen")."""

    def __init__(self, node: AsyncNode) -> None:
        self._node = node
        self._puller: AsyncDirectPuller | None = None

    @property
    def puller(self) -> AsyncDirectPuller:
        """The async Pull facade (built on first use)."""
        if self._puller is None:
            node = self._node
            core = pull_core(node, node.sync_directory, node.sync_consent)
            self._puller = AsyncDirectPuller(core, ssl_context=node.ssl_context())
        return self._puller

    async def query(self, holder: Ura, patient: Bsn, queries: Queries) -> DirectPullResult:
        """Run the Permitted ``queries`` for ``patient`` at ``holder`` (BgZ server endpoint)."""
        return await self.puller.pull(holder, patient, queries)

    async def close(self) -> None:
        """Close the HTTP client made so far."""
        if self._puller is not None:
            await self._puller.close()
