"""Server-side Notified Pull blocks for a node: our token endpoint, the pull guard, the Task receiver.

These are framework-agnostic (``IncomingRequest -> Answer``); mount them in your web framework
at ``[server] token_url`` and ``[server] fhir_base``. The same blocks serve
:class:`~twiin.node.Node` and :class:`~twiin.node.AsyncNode`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from twiin.auth import CrlSource
from twiin.auth.server import (
    AssertionPolicy,
    AuthorizationBaseStore,
    MemoryAuthorizationBaseStore,
    TokenEndpoint,
    TokenIssuer,
)
from twiin.errors import ConfigurationError
from twiin.exchange.notified_pull import (
    ConsentCheck,
    IssuedTokenVerifier,
    NotificationAccess,
    NotificationReceiver,
    PatientStore,
    PullServer,
)
from twiin.node.base import NodeBase

__all__ = ["ServerBlocks"]


class ServerBlocks:
    """Our token issuer, token endpoint, pull guard and notification receiver, built on demand.

    ``bases`` is the authorization base store shared by the sender (which issues) and our token
    endpoint and pull guard (which check). To send on behalf of a GtK served elsewhere (e.g. the
    sandbox's hospital), assign its store to ``bases`` before the first ``notify``.
    """

    def __init__(self, node: NodeBase, bases: AuthorizationBaseStore | None = None) -> None:
        self._node = node
        self.bases: AuthorizationBaseStore = bases if bases is not None else MemoryAuthorizationBaseStore()
        self._issuer: TokenIssuer | None = None

    @property
    def token_url(self) -> str:
        """``[server] token_url``; required for the server-side blocks."""
        url = self._node.settings.server.token_url
        if url is None:
            raise ConfigurationError("server.token_url", "required for our token endpoint")
        return url

    @property
    def issuer(self) -> TokenIssuer:
        """Issues and checks the access tokens of our endpoints (signed with our certificate's key)."""
        if self._issuer is None:
            self._issuer = TokenIssuer(self._node.signer, issuer=self.token_url)
        return self._issuer

    def token_endpoint(self, *, crl: CrlSource | None = None, check_revocation: bool = True) -> TokenEndpoint:
        """Our token endpoint; revocation checking needs ``crl`` unless explicitly turned off (tests)."""
        policy = AssertionPolicy(
            audience=self.token_url, trust=self._node.trust, crl=crl, check_revocation=check_revocation,
            intermediates=tuple(self._node.credentials.chain[1:]),
        )  # fmt: skip
        return TokenEndpoint(issuer=self.issuer, policy=policy, store=self.bases)

    def pull_server(self, store: PatientStore, consent: ConsentCheck) -> PullServer:
        """The guard in front of our FHIR store for pulls under an authorization base."""
        base = self._node.settings.server.fhir_base
        if base is None:
            raise ConfigurationError("server.fhir_base", "required for the pull guard")
        return PullServer(
            self._node.ura, tokens=IssuedTokenVerifier(self.issuer, self.bases), bases=self.bases,
            consent=consent, store=store, base_path=urlsplit(base).path.rstrip("/") or "/",
            auditor=self._node.auditor,
        )  # fmt: skip

    def receiver(self) -> NotificationReceiver:
        """Accepts Notification Tasks; bearer tokens are checked when ``[server] token_url`` is set."""
        access = NotificationAccess(self.issuer) if self._node.settings.server.token_url else None
        return NotificationReceiver(self._node.ura, auditor=self._node.auditor, access=access)
