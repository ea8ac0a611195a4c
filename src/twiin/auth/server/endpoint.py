"""A framework-agnostic OAuth 2.0 token endpoint for a GtK.

``TokenEndpoint(...).handle(request)`` takes an :class:`~twiin.serving.IncomingRequest` (the
form body and the TLS client certificate) and returns an :class:`~twiin.serving.Answer` with
an RFC 6749 §5.1 success or §5.2 error. Supported:

* ``client_credentials`` with ``private_key_jwt`` (client assertion) or ``tls_client_auth``
  (the TLS client certificate's URA must match the client id);
* the JWT-bearer grant (RFC 7523 §2.1) whose assertion carries a Notified Pull authorization
  base (claim ``authorization_base``, or the form parameter of the same name); the token is
  scoped to exactly the base's queries;
* token exchange (RFC 8693), when enabled with ``token_exchange=True``: the authenticated client
  trades an access token we issued to it for a new one with the same or fewer scopes and the
  same authorization base (re-checked, so a revoked base cannot be exchanged).

Tokens are bound to the TLS client certificate when one is present. Error descriptions name
the failed check but never echo tokens, assertions or authorization bases.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import parse_qsl

from twiin.auth.chain import verify_chain
from twiin.auth.jose import ASSERTION_TYPE
from twiin.auth.server.assertion import (
    AssertionPolicy,
    MemoryReplayCache,
    ReplayCache,
    VerifiedAssertion,
    ura_from_client_id,
    verify_authorization_grant,
    verify_client_assertion,
)
from twiin.auth.server.authbase import AuthorizationBase, AuthorizationBaseStore
from twiin.auth.server.tokens import AccessClaims, TokenIssuer, verify_access_token
from twiin.auth.uzi import uzi_identity
from twiin.errors import (
    AuthorizationBaseError,
    ChainValidationError,
    ClientAssertionError,
    InvalidTokenError,
    UziIdentityError,
)
from twiin.identifiers import Ura
from twiin.redaction import get_logger
from twiin.serving import Answer, IncomingRequest

__all__ = ["GRANT_CLIENT_CREDENTIALS", "GRANT_JWT_BEARER", "GRANT_TOKEN_EXCHANGE", "TokenEndpoint"]

log = get_logger(__name__)

GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
TOKEN_TYPE_ACCESS = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
MAX_FORM_BYTES = 64 * 1024
_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def _error_answer(err: _OAuthError) -> Answer:
    headers = dict(_NO_STORE)
    if err.status == 401:
        headers["www-authenticate"] = 'Bearer error="invalid_client"'
    return Answer.json(err.status, {"error": err.error, "error_description": err.description}, **headers)


def _form(request: IncomingRequest) -> dict[str, str]:
    if request.method.upper() != "POST":
        raise _OAuthError(405, "invalid_request", "the token endpoint takes POST only")
    if request.content_type != "application/x-www-form-urlencoded":
        raise _OAuthError(400, "invalid_request", "body must be application/x-www-form-urlencoded")
    if len(request.body) > MAX_FORM_BYTES:
        raise _OAuthError(400, "invalid_request", "request body too large")
    try:
        pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise _OAuthError(400, "invalid_request", "malformed form body") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise _OAuthError(400, "invalid_request", f"parameter {name!r} repeated")
        form[name] = value
    return form


class TokenEndpoint:
    """Our token endpoint: authenticates the client, dispatches the grant, issues the token."""

    def __init__(
        self,
        *,
        issuer: TokenIssuer,
        policy: AssertionPolicy,
        replay_cache: ReplayCache | None = None,
        store: AuthorizationBaseStore | None = None,
        allowed_scopes: frozenset[str] | None = None,
        tls_client_auth: bool = True,
        require_tls_client_certificate: bool = True,
        authorization_base_claim: str = "authorization_base",
        authorization_base_param: str = "authorization_base",
        token_exchange: bool = False,
    ) -> None:
        self.issuer = issuer
        self.policy = policy
        self.replay_cache: ReplayCache = replay_cache if replay_cache is not None else MemoryReplayCache()
        self.store = store
        self.allowed_scopes = allowed_scopes
        self.tls_client_auth = tls_client_auth
        self.require_tls_client_certificate = require_tls_client_certificate
        self.authorization_base_claim = authorization_base_claim
        self.authorization_base_param = authorization_base_param
        self.token_exchange = token_exchange

    def __repr__(self) -> str:
        return f"TokenEndpoint(issuer={self.issuer.issuer!r})"

    def handle(self, request: IncomingRequest, *, now: float | None = None) -> Answer:
        """Answer one token request."""
        when = time.time() if now is None else now
        try:
            form = _form(request)
            if self.require_tls_client_certificate and request.peer_certificate is None:
                raise _OAuthError(401, "invalid_client", "a TLS client certificate is required")
            client_id, ura, _ = self._authenticate(form, request, when)
            grant = form.get("grant_type")
            if grant == GRANT_CLIENT_CREDENTIALS:
                return self._issue(client_id, ura, self._scopes(form), request, base=None, now=when)
            if grant == GRANT_JWT_BEARER:
                base = self._authorization_base(form, client_id, ura, request, when)
                return self._issue(client_id, ura, self._scopes(form), request, base=base, now=when)
            if grant == GRANT_TOKEN_EXCHANGE and self.token_exchange:
                scopes, carried = self._exchange(form, client_id, ura, request, when)
                return self._issue(
                    client_id,
                    ura,
                    scopes,
                    request,
                    base=carried,
                    now=when,
                    issued_token_type=TOKEN_TYPE_ACCESS,
                )
            if not grant:
                raise _OAuthError(400, "invalid_request", "grant_type is missing")
            raise _OAuthError(400, "unsupported_grant_type", "grant type is not supported")
        except _OAuthError as err:
            log.info("token request refused: %s (%s)", err.error, err.description)
            return _error_answer(err)

    # -- steps ---------------------------------------------------------------------------------
    def _authenticate(
        self, form: Mapping[str, str], request: IncomingRequest, now: float
    ) -> tuple[str, Ura, VerifiedAssertion | None]:
        assertion = form.get("client_assertion")
        if assertion is not None:
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise _OAuthError(400, "invalid_request", "unsupported client_assertion_type")
            try:
                verified = verify_client_assertion(
                    assertion,
                    policy=self.policy,
                    replay_cache=self.replay_cache,
                    peer_certificate=request.peer_certificate,
                    client_id=form.get("client_id"),
                    now=now,
                )
            except ClientAssertionError as exc:
                raise _OAuthError(401, "invalid_client", exc.reason) from None
            return verified.client_id, verified.ura, verified
        client_id = form.get("client_id")
        if client_id and self.tls_client_auth and request.peer_certificate is not None:
            return client_id, self._tls_client(client_id, request, now), None
        raise _OAuthError(401, "invalid_client", "no client authentication")

    def _tls_client(self, client_id: str, request: IncomingRequest, now: float) -> Ura:
        from datetime import UTC, datetime

        cert = request.peer_certificate
        assert cert is not None
        try:
            verify_chain(
                cert,
                self.policy.trust,
                now=datetime.fromtimestamp(now, UTC),
                purpose="client",
                intermediates=self.policy.intermediates,
                crl=self.policy.crl,
                check_revocation=self.policy.check_revocation,
            )
            identity = uzi_identity(cert)
        except (ChainValidationError, UziIdentityError) as exc:
            raise _OAuthError(
                401, "invalid_client", f"TLS client certificate refused: {exc.message}"
            ) from None
        ura = ura_from_client_id(client_id, self.policy.clients)
        if ura is None or ura != identity.ura:
            raise _OAuthError(401, "invalid_client", "client id does not match the TLS certificate's URA")
        return ura

    def _scopes(self, form: Mapping[str, str]) -> tuple[str, ...]:
        scopes = tuple(form.get("scope", "").split())
        if self.allowed_scopes is not None:
            unknown = [s for s in scopes if s not in self.allowed_scopes]
            if unknown:
                raise _OAuthError(400, "invalid_scope", "requested scope is not allowed")
        return scopes

    def _authorization_base(
        self, form: Mapping[str, str], client_id: str, ura: Ura, request: IncomingRequest, now: float
    ) -> AuthorizationBase:
        from datetime import UTC, datetime

        if self.store is None:
            raise _OAuthError(400, "unsupported_grant_type", "no authorization bases are issued here")
        assertion = form.get("assertion")
        if not assertion:
            raise _OAuthError(400, "invalid_request", "assertion is missing")
        try:
            grant = verify_authorization_grant(
                assertion,
                policy=self.policy,
                replay_cache=self.replay_cache,
                client_id=client_id,
                peer_certificate=request.peer_certificate,
                now=now,
            )
        except ClientAssertionError as exc:
            raise _OAuthError(400, "invalid_grant", exc.reason) from None
        if grant.ura != ura:
            raise _OAuthError(400, "invalid_grant", "grant was signed for another organisation")
        in_claim = grant.claims.get(self.authorization_base_claim)
        in_form = form.get(self.authorization_base_param)
        if in_claim is not None and in_form is not None and in_claim != in_form:
            raise _OAuthError(
                400, "invalid_grant", "authorization base in the form differs from the assertion"
            )
        value = in_claim if in_claim is not None else in_form
        if not isinstance(value, str) or not value:
            raise _OAuthError(400, "invalid_grant", "no authorization base in the grant")
        try:
            return self.store.check(value, receiver=ura, now=datetime.fromtimestamp(now, UTC))
        except AuthorizationBaseError as exc:
            raise _OAuthError(400, "invalid_grant", exc.message) from None

    def _exchange(
        self, form: Mapping[str, str], client_id: str, ura: Ura, request: IncomingRequest, now: float
    ) -> tuple[tuple[str, ...], AuthorizationBase | None]:
        """Check an RFC 8693 request: our own, still valid token of this client, never widened."""
        from datetime import UTC, datetime

        subject_token = form.get("subject_token")
        if not subject_token or form.get("subject_token_type") != TOKEN_TYPE_ACCESS:
            raise _OAuthError(400, "invalid_request", "needs subject_token of type access_token")
        requested = form.get("requested_token_type")
        if requested is not None and requested != TOKEN_TYPE_ACCESS:
            raise _OAuthError(400, "invalid_request", "only access tokens are issued")
        if "actor_token" in form:
            raise _OAuthError(400, "invalid_request", "delegation (actor_token) is not supported")
        for target in ("audience", "resource"):  # RFC 8693 §2.1: both name where the token is used
            if target in form and form[target] != self.issuer.audience:
                raise _OAuthError(400, "invalid_target", "tokens are only issued for this resource server")
        try:
            held: AccessClaims = verify_access_token(
                subject_token,
                peer_certificate=request.peer_certificate,
                issuer=self.issuer,
                store=self.store,
                now=now,
                require_binding=False,  # a bound subject token must still match the TLS peer
            )
        except InvalidTokenError as exc:
            raise _OAuthError(400, "invalid_grant", f"subject token refused: {exc.message}") from None
        if held.client_ura != ura or held.client_id != client_id:
            raise _OAuthError(400, "invalid_grant", "subject token was issued to another client")
        scopes = self._scopes(form) if "scope" in form else held.scope
        if not set(scopes) <= set(held.scope):
            raise _OAuthError(400, "invalid_scope", "an exchanged token cannot have more scope")
        base = None
        if held.authorization_base_id is not None:
            assert self.store is not None  # verify_access_token needs it for such tokens
            try:
                base = self.store.resolve_id(held.authorization_base_id, now=datetime.fromtimestamp(now, UTC))
            except AuthorizationBaseError as exc:  # revoked since verify_access_token looked
                raise _OAuthError(400, "invalid_grant", exc.message) from None
        return scopes, base

    def _issue(
        self,
        client_id: str,
        ura: Ura,
        scopes: tuple[str, ...],
        request: IncomingRequest,
        *,
        base: AuthorizationBase | None,
        now: float,
        issued_token_type: str | None = None,
    ) -> Answer:
        token, lifetime = self.issuer.issue(
            client_id=client_id,
            client_ura=ura,
            scope=scopes,
            certificate=request.peer_certificate,
            authorization_base=base,
            now=now,
        )
        body: dict[str, object] = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
        if scopes:
            body["scope"] = " ".join(scopes)
        if issued_token_type:  # RFC 8693 §2.2.1
            body["issued_token_type"] = issued_token_type
        log.info("token issued to client %s (URA %s)", client_id, ura.value)
        return Answer.json(200, body, **_NO_STORE)
