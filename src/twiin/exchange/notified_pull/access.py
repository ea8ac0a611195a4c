"""Access-token checks for the Notified Pull server blocks, on top of :mod:`twiin.auth.server`.

:class:`IssuedTokenVerifier` is the pull guard's
:class:`~twiin.exchange.notified_pull.ports.TokenVerifier`: it checks a token our
:class:`~twiin.auth.server.TokenIssuer` issued (signature, expiry, certificate binding) and
reports a revoked or expired authorization base as ``AuthorizationBaseError`` -- the guard answers
that with the "authorization base revoked" refusal the receiver maps to a cancellation.
:class:`NotificationAccess` checks the token on the receiver's Task endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cryptography import x509

from twiin.auth.server import AuthorizationBaseStore, TokenIssuer, verify_access_token
from twiin.errors import InvalidTokenError
from twiin.exchange.notified_pull.ports import AccessGrant
from twiin.identifiers import Ura

__all__ = ["IssuedTokenVerifier", "NotificationAccess"]


class IssuedTokenVerifier:
    """Verifies access tokens for pull requests; the grant carries the authorization base id."""

    def __init__(
        self, issuer: TokenIssuer, store: AuthorizationBaseStore, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.issuer = issuer
        self.store = store
        self._clock = clock

    def __repr__(self) -> str:
        return f"IssuedTokenVerifier({self.issuer!r})"

    def verify(self, token: str, peer_certificate: x509.Certificate | None) -> AccessGrant:
        """The grant behind ``token``; ``InvalidTokenError``, or ``AuthorizationBaseError`` when revoked."""
        now = self._clock()
        base_id = self.issuer.verified_claims(token, now=now).get("authorization_base_id")
        if not isinstance(base_id, str) or not base_id:
            raise InvalidTokenError("access token was not issued for an authorization base")
        self.store.resolve_id(base_id)
        claims = verify_access_token(
            token, peer_certificate=peer_certificate, issuer=self.issuer, store=self.store, now=now
        )
        if claims.authorization_base_id is None:
            raise InvalidTokenError("access token carries no authorization base")
        return AccessGrant(claims.client_ura, claims.authorization_base_id, claims.patient)


class NotificationAccess:
    """Verifies the bearer token on our Notification Task endpoint; returns the client's URA."""

    def __init__(self, issuer: TokenIssuer, *, clock: Callable[[], float] = time.time) -> None:
        self.issuer = issuer
        self._clock = clock

    def __repr__(self) -> str:
        return f"NotificationAccess({self.issuer!r})"

    def __call__(self, token: str, peer_certificate: x509.Certificate | None) -> Ura:
        claims = verify_access_token(
            token, peer_certificate=peer_certificate, issuer=self.issuer, now=self._clock()
        )
        return claims.client_ura
