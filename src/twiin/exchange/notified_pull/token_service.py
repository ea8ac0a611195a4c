"""The sender's token endpoint for Notified Pull, and the matching access-token check.

A receiver asks for a token with the JWT-bearer grant (RFC 7523 §2.1): ``grant_type`` jwt-bearer,
an authorization ``assertion`` carrying the authorization base (claim ``authorization_base`` or
form field of that name), and a ``private_key_jwt`` client assertion. :class:`PullTokenService`
verifies both assertions against the UZI trust anchors (via :mod:`twiin.auth.server`), checks the
authorization base is live and was issued to the client's URA, and issues a short-lived opaque
access token bound to the client's TLS certificate, that URA, that base and that patient.
:meth:`PullTokenService.verify` is the :class:`~twiin.exchange.notified_pull.ports.TokenVerifier`
the pull-serving block uses; it fails at once after the base is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

import attrs
from cryptography import x509

from twiin.auth.flows import GRANT_JWT_BEARER
from twiin.auth.server import (
    AssertionPolicy,
    AuthorizationBaseStore,
    MemoryReplayCache,
    ReplayCache,
    verify_authorization_grant,
    verify_client_assertion,
)
from twiin.credentials import x5t_s256
from twiin.errors import AuthorizationBaseError, ClientAssertionError, InvalidTokenError
from twiin.exchange.notified_pull.ports import AccessGrant
from twiin.identifiers import Bsn, Ura
from twiin.redaction import get_logger
from twiin.serving import Answer, IncomingRequest

__all__ = ["ASSERTION_TYPE", "PullTokenService"]

log = get_logger(__name__)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_TOKENS = 100_000


@attrs.frozen(repr=False)
class _Issued:
    client_ura: Ura
    base_id: str
    patient: Bsn
    thumbprint: str
    expires_at: float


def _oauth_error(status: int, error: str, description: str) -> Answer:
    return Answer.json(status, {"error": error, "error_description": description}, cache_control="no-store")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class PullTokenService:
    """Token endpoint (``handle``) and access-token verifier (``verify``) of a Notified Pull sender."""

    def __init__(
        self,
        policy: AssertionPolicy,
        bases: AuthorizationBaseStore,
        *,
        replay_cache: ReplayCache | None = None,
        token_lifetime: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.bases = bases
        self.replay_cache = replay_cache or MemoryReplayCache()
        self.token_lifetime = token_lifetime
        self._clock = clock
        self._tokens: dict[str, _Issued] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PullTokenService({len(self._tokens)} tokens)"

    def __call__(self, request: IncomingRequest) -> Answer:
        return self.handle(request)

    def handle(self, request: IncomingRequest) -> Answer:
        """Answer one token request (RFC 6749 §5: 200 with a token, or 400/401 with an error)."""
        if request.method.upper() != "POST" or request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "POST a form-encoded token request")
        try:
            form = dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, max_num_fields=20))
        except (UnicodeDecodeError, ValueError):
            return _oauth_error(400, "invalid_request", "malformed form")
        if form.get("grant_type") != GRANT_JWT_BEARER:
            return _oauth_error(400, "unsupported_grant_type", "only the jwt-bearer grant is supported")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            return _oauth_error(401, "invalid_client", "private_key_jwt client authentication required")
        if not form.get("assertion"):
            return _oauth_error(400, "invalid_request", "assertion missing")
        now = self._clock()
        try:
            client = verify_client_assertion(
                form["client_assertion"], policy=self.policy, replay_cache=self.replay_cache,
                peer_certificate=request.peer_certificate, client_id=form.get("client_id"), now=now,
            )  # fmt: skip
            grant = verify_authorization_grant(
                form["assertion"], policy=self.policy, replay_cache=self.replay_cache,
                client_id=client.client_id, peer_certificate=request.peer_certificate, now=now,
            )  # fmt: skip
        except ClientAssertionError as exc:
            status = 401 if exc.error == "invalid_client" else 400
            return _oauth_error(status, exc.error, exc.reason)
        value = grant.claims.get("authorization_base") or form.get("authorization_base")
        if not isinstance(value, str) or not value:
            return _oauth_error(400, "invalid_grant", "no authorization base in the grant")
        try:
            base = self.bases.check(value, receiver=client.ura)
        except AuthorizationBaseError as exc:
            return _oauth_error(400, "invalid_grant", exc.message)
        if request.peer_certificate is None:
            return _oauth_error(401, "invalid_client", "mTLS client certificate required")
        token = secrets.token_urlsafe(32)
        issued = _Issued(client.ura, base.id, base.patient, x5t_s256(request.peer_certificate),
                         now + self.token_lifetime)  # fmt: skip
        with self._lock:
            if len(self._tokens) >= MAX_TOKENS:
                self._tokens = {k: v for k, v in self._tokens.items() if v.expires_at > now}
            self._tokens[_digest(token)] = issued
        payload = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
        return Answer.json(200, payload, cache_control="no-store", pragma="no-cache")

    def verify(self, token: str, peer_certificate: x509.Certificate | None) -> AccessGrant:
        """The grant behind ``token``; ``InvalidTokenError`` or ``AuthorizationBaseError`` (revoked)."""
        with self._lock:
            issued = self._tokens.get(_digest(token))
        if issued is None or issued.expires_at <= self._clock():
            raise InvalidTokenError("access token is unknown or expired")
        if peer_certificate is None or x5t_s256(peer_certificate) != issued.thumbprint:
            raise InvalidTokenError("access token is bound to another TLS certificate")
        self.bases.resolve_id(issued.base_id)
        return AccessGrant(issued.client_ura, issued.base_id, issued.patient)
