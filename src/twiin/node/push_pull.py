"""Push and Pull (direct query) for a :class:`~twiin.node.Node`: thin facades over the cores.

:func:`push_core` and :func:`pull_core` wire :class:`~twiin.exchange.push.PushCore` and
:class:`~twiin.exchange.pull.DirectPullCore` with the node's URA, a resolver, the fail-closed
consent check built from ``[consent]`` (:meth:`~twiin.node.NodeBase.consent_check_for`),
``client_credentials`` token auth per peer (``token.endpoints`` / ``token.path``) and the
auditor. Consent is always asked: a push names its ``patient``, a pull sends nothing without
a Permit. The async twins live in :mod:`twiin.node.apush_pull`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twiin.addressing import AddressResolver, PayloadType
from twiin.consent import ConsentChecker
from twiin.exchange.pull import DirectPullCore, DirectPuller, DirectPullResult, PullQuery
from twiin.exchange.push import PushCore, Pusher, PushReceipt
from twiin.identifiers import Bsn, Ura
from twiin.node.base import NodeBase
from twiin.usecases.bgz import BgzQuery

if TYPE_CHECKING:
    from twiin.node.sync import Node

__all__ = ["Pull", "Push", "pull_core", "push_core"]

Queries = Sequence[PullQuery | BgzQuery | str]


def push_core(node: NodeBase, resolver: AddressResolver, checker: ConsentChecker) -> PushCore:
    """A Push core as ``node``: we hold the data, so every resource type needs a Permit."""
    return PushCore(node.ura, resolver, auth_for=node.auth_for_peer, auditor=node.auditor,
                    consent=node.consent_check_for(checker))  # fmt: skip


def pull_core(node: NodeBase, resolver: AddressResolver, checker: ConsentChecker) -> DirectPullCore:
    """A direct Pull core as ``node``: we request, the holder is the peer."""
    consent = node.consent_check_for(checker, requesting=True)
    return DirectPullCore(node.ura, resolver, consent, auth_for=node.auth_for_peer, auditor=node.auditor)


class Push:
    """Push ("gericht verzenden"): POST a transaction, batch or message Bundle to a receiver."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._pusher: Pusher | None = None

    @property
    def pusher(self) -> Pusher:
        """The Push facade (built on first use; ``ConfigurationError`` without consent settings)."""
        if self._pusher is None:
            node = self._node
            core = push_core(node, node.directory, node.consent)
            self._pusher = Pusher(core, ssl_context=node.ssl_context())
        return self._pusher

    def send(
        self, receiver: Ura, bundle: Any, payload_type: PayloadType | str, *, patient: Bsn
    ) -> PushReceipt:
        """Check consent for ``patient``, then POST ``bundle`` to ``receiver``'s ``payload_type`` endpoint."""
        return self.pusher.push(receiver, bundle, payload_type, patient=patient)

    def close(self) -> None:
        """Close the HTTP client made so far."""
        if self._pusher is not None:
            self._pusher.close()


class Pull:
    """Pull ("gericht bevragen"): consent first, then query the data holder directly."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._puller: DirectPuller | None = None

    @property
    def puller(self) -> DirectPuller:
        """The Pull facade (built on first use; ``ConfigurationError`` without consent settings)."""
        if self._puller is None:
            node = self._node
            core = pull_core(node, node.directory, node.consent)
            self._puller = DirectPuller(core, ssl_context=node.ssl_context())
        return self._puller

    def query(self, holder: Ura, patient: Bsn, queries: Queries) -> DirectPullResult:
        """Run the Permitted ``queries`` for ``patient`` at ``holder`` (BgZ server endpoint)."""
        return self.puller.pull(holder, patient, queries)

    def close(self) -> None:
        """Close the HTTP client made so far."""
        if self._puller is not None:
            self._puller.close()
