"""OAuth 2.0 token flows as ``httpx.Auth``: one implementation for ``httpx.Client`` and ``AsyncClient``.

Each flow yields its token request from the auth flow, so the request travels through the
caller's own transport (the same mTLS ``SSLContext``, the same mock transport in tests). Tokens
are cached per (token endpoint, client, grant, scope, audience, authorization base), refreshed
``leeway`` seconds ahead of expiry, fetched once when many threads (``threading.Lock``) or tasks
(``anyio.Lock``) need one at the same time, and fetched again once after a ``401`` whose
``WWW-Authenticate`` says ``invalid_token`` (or gives no error code at all).

Defaults and their sources:

* client assertion ``aud`` = the token endpoint URL (RFC 7523 §3, MinVWS GF token service,
  VIPLive example); oidc-provider also accepts the issuer, other servers only the endpoint.
  Override with ``assertion_audience``.
* assertion lifetime 60 s (MinVWS / nuts-knooppunt), hard maximum 300 s; fresh ``jti`` always.
* JWT-bearer (RFC 7523 §2.1): the authorization base from a Notified Pull notification goes
  into the signed ``assertion`` as claim ``authorization_base`` (name from TA Notified Pull /
  VIPLive); ``authorization_base_param`` also sends it as a form parameter for servers that want
  that. Twiin's text does not pin the exact claim set (twiin-core.md §6.2, §8).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any

import anyio

from twiin._http.compat import httpx
from twiin.addressing.endpoint import EndpointPolicy
from twiin.auth.dpop import DPoPSigner
from twiin.auth.jose import (
    ASSERTION_TYPE,
    DEFAULT_ASSERTION_LIFETIME,
    AssertionSigner,
    build_client_assertion,
)
from twiin.auth.tokens import (
    DEFAULT_LEEWAY,
    DEFAULT_TOKEN_LIFETIME,
    MAX_TOKEN_RESPONSE_BYTES,
    CacheKey,
    Token,
    TokenCache,
    cache_key,
    parse_token_response,
)
from twiin.credentials import Credentials
from twiin.errors import ConfigurationError, ResponseTooLarge, UnsafeEndpoint
from twiin.redaction import get_logger

__all__ = [
    "GRANT_CLIENT_CREDENTIALS",
    "GRANT_JWT_BEARER",
    "GRANT_TOKEN_EXCHANGE",
    "ClientCredentialsAuth",
    "JwtBearerAuth",
    "TlsClientAuth",
    "TokenAuth",
    "TokenExchangeAuth",
    "checked_token_endpoint",
]

log = get_logger(__name__)

GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
TOKEN_TYPE_ACCESS = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105

Clock = Callable[[], float]


def _as_signer(value: AssertionSigner | Credentials | None) -> AssertionSigner | None:
    if value is None or isinstance(value, AssertionSigner):
        return value
    return AssertionSigner(value)


_HTTPS = EndpointPolicy()
_LOOPBACK_HTTP = EndpointPolicy(allow_http=True, allowed_hosts=frozenset({"127.0.0.1", "localhost", "::1"}))


def checked_token_endpoint(url: str) -> str:
    """``url`` if it is an https URL, or plain http on a loopback host (tests, local sidecars).

    Anything else raises :class:`~twiin.errors.ConfigurationError`: a token request carries a
    signed assertion and must not travel in the clear to another host.
    """
    for policy in (_HTTPS, _LOOPBACK_HTTP):
        try:
            return policy.check(url)
        except UnsafeEndpoint:
            continue
    raise ConfigurationError("auth.token_endpoint", "must be an https URL (plain http only on loopback)")


def _invalid_token(response: httpx.Response) -> bool:
    if response.status_code != 401:
        return False
    challenge = response.headers.get("www-authenticate", "")
    return "error=" not in challenge or "invalid_token" in challenge


class TokenAuth(httpx.Auth):
    """Base of the token flows: cache, single-flight, refresh, 401 re-fetch, optional DPoP."""

    requires_request_body = True  # a request may be sent twice (after a 401 re-fetch)
    grant_type: str = ""

    def __init__(
        self,
        token_endpoint: str,
        *,
        client_id: str | None,
        scope: str | None = None,
        audience: str | None = None,
        extra_params: Mapping[str, str] | None = None,
        cache: TokenCache | None = None,
        leeway: float = DEFAULT_LEEWAY,
        default_lifetime: float = DEFAULT_TOKEN_LIFETIME,
        dpop: DPoPSigner | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.token_endpoint = checked_token_endpoint(token_endpoint)
        self.client_id = client_id
        self.scope = scope
        self.audience = audience
        self.extra_params = dict(extra_params or {})
        self.cache = cache if cache is not None else TokenCache()
        self.leeway = leeway
        self.default_lifetime = default_lifetime
        self.dpop = dpop
        self.clock = clock
        self.token_requests = 0
        self._lock = threading.Lock()
        self._alock: anyio.Lock | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token_endpoint={self.token_endpoint!r}, client_id={self.client_id!r})"

    # -- what subclasses define ---------------------------------------------------------------
    def key(self) -> CacheKey:
        """The cache key of the token this flow obtains."""
        return cache_key(
            self.token_endpoint, self.client_id, self.grant_type, scope=self.scope, audience=self.audience
        )

    def token_form(self, now: float) -> dict[str, str]:
        """The form fields of a token request (grant-specific and client authentication)."""
        form = {"grant_type": self.grant_type}
        if self.scope:
            form["scope"] = self.scope
        if self.audience:
            form["audience"] = self.audience
        form.update(self.extra_params)
        return form

    # -- sans-I/O steps ------------------------------------------------------------------------
    def cached_token(self) -> Token | None:
        """The cached token if it is still fresh."""
        return self.cache.get(self.key(), self.clock(), self.leeway)

    def build_token_request(self) -> httpx.Request:
        """A new token request (fresh assertion, fresh jti)."""
        headers = {"Accept": "application/json"}
        if self.dpop is not None:
            headers["DPoP"] = self.dpop.proof("POST", self.token_endpoint)
        self.token_requests += 1
        return httpx.Request("POST", self.token_endpoint, data=self.token_form(self.clock()), headers=headers)

    def accept_token_response(self, response: httpx.Response, body: bytes) -> Token:
        """Parse the token answer, cache the token and return it (or raise ``TokenRequestError``)."""
        token = parse_token_response(
            response.status_code,
            dict(response.headers),
            body,
            now=self.clock(),
            url=self.token_endpoint,
            default_lifetime=self.default_lifetime,
        )
        self.cache.put(self.key(), token)
        log.debug(
            "token obtained from %s (expires in %.0fs)",
            self.token_endpoint,
            token.expires_at - token.issued_at,
        )
        return token

    def authorize(self, request: httpx.Request, token: Token) -> httpx.Request:
        """Put the token (and a DPoP proof with ``ath``) on ``request``."""
        if self.dpop is not None and token.scheme == "DPoP":
            request.headers["Authorization"] = f"DPoP {token.access_token}"
            request.headers["DPoP"] = self.dpop.proof(
                request.method, str(request.url), access_token=token.access_token
            )
        else:
            request.headers["Authorization"] = f"Bearer {token.access_token}"
        return request

    # -- httpx.Auth ----------------------------------------------------------------------------
    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sync flow: single-flight under a ``threading.Lock``."""
        token = self.cached_token()
        if token is None:
            with self._lock:
                token = self.cached_token()
                if token is None:
                    token = yield from self._fetch_sync()
        response = yield self.authorize(request, token)
        if _invalid_token(response):
            with self._lock:
                self.cache.invalidate(self.key(), token)
                fresh = self.cached_token()
                if fresh is None:
                    fresh = yield from self._fetch_sync()
            yield self.authorize(request, fresh)

    def _fetch_sync(self) -> Generator[httpx.Request, httpx.Response, Token]:
        response = yield self.build_token_request()
        return self.accept_token_response(response, _checked(response.read(), self.token_endpoint))

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Async flow: single-flight under an ``anyio.Lock``."""
        if self._alock is None:
            self._alock = anyio.Lock()
        token = self.cached_token()
        if token is None:
            async with self._alock:
                token = self.cached_token()
                if token is None:
                    response = yield self.build_token_request()
                    token = self.accept_token_response(response, await _aread(response, self.token_endpoint))
        response = yield self.authorize(request, token)
        if _invalid_token(response):
            async with self._alock:
                self.cache.invalidate(self.key(), token)
                fresh = self.cached_token()
                if fresh is None:
                    token_response = yield self.build_token_request()
                    body = await _aread(token_response, self.token_endpoint)
                    fresh = self.accept_token_response(token_response, body)
            yield self.authorize(request, fresh)


def _checked(body: bytes, url: str) -> bytes:
    if len(body) > MAX_TOKEN_RESPONSE_BYTES:
        raise ResponseTooLarge("token response too large", url=url)
    return body


async def _aread(response: httpx.Response, url: str) -> bytes:
    return _checked(await response.aread(), url)


class _AssertionMixin(TokenAuth):
    """Client authentication with a ``private_key_jwt`` client assertion."""

    def _init_assertion(
        self,
        signer: AssertionSigner | Credentials | None,
        assertion_audience: str | None,
        assertion_lifetime: int,
        assertion_claims: Mapping[str, Any] | None,
        bind_certificate: bool,
        *,
        assertion_typ: str | None = "JWT",
        assertion_not_before: bool = False,
    ) -> None:
        self.signer = _as_signer(signer)
        self.assertion_typ = assertion_typ
        self.assertion_not_before = assertion_not_before
        self.assertion_audience = assertion_audience or self.token_endpoint
        self.assertion_lifetime = assertion_lifetime
        self.assertion_claims = dict(assertion_claims or {})
        self.bind_certificate = bind_certificate
        if not 0 < assertion_lifetime <= 300:
            raise ConfigurationError("auth.assertion_lifetime", "must be between 1 and 300 seconds")

    def client_authentication(self, now: float) -> dict[str, str]:
        """``client_assertion`` fields, or ``client_id`` alone when no signer is configured."""
        if self.signer is None:
            return {"client_id": self.client_id} if self.client_id else {}
        assert self.client_id is not None
        assertion = build_client_assertion(
            self.signer,
            client_id=self.client_id,
            audience=self.assertion_audience,
            lifetime=self.assertion_lifetime,
            now=now,
            bind_certificate=self.bind_certificate,
            extra_claims=self.assertion_claims,
            not_before=self.assertion_not_before,
            typ=self.assertion_typ,
        )
        return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}


class ClientCredentialsAuth(_AssertionMixin):
    """``client_credentials`` with ``private_key_jwt`` (RFC 7523 §2.2 client assertion).

    ``extra_params`` go on the form (e.g. ``target_audience`` or ``resource``);
    ``assertion_claims`` go into the assertion (e.g. ``scope``, ``target_audience`` as the
    MinVWS token service wants). ``bind_certificate`` adds ``cnf.x5t#S256`` to the assertion;
    ``assertion_typ`` sets its header ``typ`` (``None`` omits it) and ``assertion_not_before``
    adds ``nbf``. The signer's ``alg``, ``kid`` and ``x5c`` come from the
    :class:`~twiin.auth.AssertionSigner` passed in.
    """

    grant_type = GRANT_CLIENT_CREDENTIALS

    def __init__(
        self,
        token_endpoint: str,
        signer: AssertionSigner | Credentials,
        *,
        client_id: str,
        scope: str | None = None,
        audience: str | None = None,
        assertion_audience: str | None = None,
        assertion_lifetime: int = DEFAULT_ASSERTION_LIFETIME,
        assertion_claims: Mapping[str, Any] | None = None,
        bind_certificate: bool = False,
        assertion_typ: str | None = "JWT",
        assertion_not_before: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(token_endpoint, client_id=client_id, scope=scope, audience=audience, **kwargs)
        self._init_assertion(
            signer,
            assertion_audience,
            assertion_lifetime,
            assertion_claims,
            bind_certificate,
            assertion_typ=assertion_typ,
            assertion_not_before=assertion_not_before,
        )

    def token_form(self, now: float) -> dict[str, str]:
        """``grant_type=client_credentials`` plus the client assertion."""
        return {**super().token_form(now), **self.client_authentication(now)}


class TlsClientAuth(TokenAuth):
    """``client_credentials`` with mTLS client authentication only (RFC 8705 ``tls_client_auth``).

    The client certificate of the transport authenticates us; the server binds the token to it
    (``cnf.x5t#S256``). Only ``client_id`` goes on the form.
    """

    grant_type = GRANT_CLIENT_CREDENTIALS

    def __init__(self, token_endpoint: str, *, client_id: str, **kwargs: Any) -> None:
        super().__init__(token_endpoint, client_id=client_id, **kwargs)

    def token_form(self, now: float) -> dict[str, str]:
        """``grant_type=client_credentials&client_id=...``."""
        assert self.client_id is not None
        return {**super().token_form(now), "client_id": self.client_id}


class JwtBearerAuth(_AssertionMixin):
    """The JWT-bearer grant (RFC 7523 §2.1) carrying a Notified Pull authorization base.

    The authorization ``assertion`` is signed by ``signer``; ``sub`` defaults to ``client_id``
    (AORTA-Twiin uses the initiating organisation's URA: pass ``subject``). The client also
    authenticates with a client assertion unless ``client_authentication="tls_client_auth"``
    (only ``client_id``) or ``"none"``.
    """

    grant_type = GRANT_JWT_BEARER

    def __init__(
        self,
        token_endpoint: str,
        signer: AssertionSigner | Credentials,
        *,
        client_id: str,
        authorization_base: str | None,
        subject: str | None = None,
        scope: str | None = None,
        audience: str | None = None,
        assertion_audience: str | None = None,
        assertion_lifetime: int = DEFAULT_ASSERTION_LIFETIME,
        assertion_claims: Mapping[str, Any] | None = None,
        authorization_base_claim: str | None = "authorization_base",
        authorization_base_param: str | None = None,
        client_authentication: str = "private_key_jwt",
        bind_certificate: bool = False,
        assertion_typ: str | None = "JWT",
        assertion_not_before: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(token_endpoint, client_id=client_id, scope=scope, audience=audience, **kwargs)
        self._init_assertion(
            signer,
            assertion_audience,
            assertion_lifetime,
            assertion_claims,
            bind_certificate,
            assertion_typ=assertion_typ,
            assertion_not_before=assertion_not_before,
        )
        if client_authentication not in ("private_key_jwt", "tls_client_auth", "none"):
            raise ConfigurationError("auth.client_authentication", "private_key_jwt, tls_client_auth or none")
        if authorization_base is not None and not (authorization_base_claim or authorization_base_param):
            raise ConfigurationError("auth.authorization_base", "needs a claim or a parameter name")
        self.authorization_base = authorization_base
        self.subject = subject
        self.authorization_base_claim = authorization_base_claim
        self.authorization_base_param = authorization_base_param
        self.client_auth_method = client_authentication

    def __repr__(self) -> str:  # the authorization base is a secret: never shown
        return f"JwtBearerAuth(token_endpoint={self.token_endpoint!r}, client_id={self.client_id!r})"

    def key(self) -> CacheKey:
        """Tokens are cached per authorization base too."""
        return cache_key(
            self.token_endpoint,
            self.client_id,
            self.grant_type,
            scope=self.scope,
            audience=self.audience,
            authorization_base=self.authorization_base,
        )

    def authorization_assertion(self, now: float) -> str:
        """The signed authorization grant assertion."""
        assert self.signer is not None
        assert self.client_id is not None
        claims = dict(self.assertion_claims)
        if self.authorization_base is not None and self.authorization_base_claim:
            claims[self.authorization_base_claim] = self.authorization_base
        return build_client_assertion(
            self.signer,
            client_id=self.client_id,
            subject=self.subject,
            audience=self.assertion_audience,
            lifetime=self.assertion_lifetime,
            now=now,
            bind_certificate=self.bind_certificate,
            extra_claims=claims,
            not_before=self.assertion_not_before,
            typ=self.assertion_typ,
        )

    def token_form(self, now: float) -> dict[str, str]:
        """``grant_type=jwt-bearer&assertion=...`` plus client authentication."""
        form = {**super().token_form(now), "assertion": self.authorization_assertion(now)}
        if self.authorization_base is not None and self.authorization_base_param:
            form[self.authorization_base_param] = self.authorization_base
        if self.client_auth_method == "private_key_jwt":
            form.update(self.client_authentication(now))
        elif self.client_auth_method == "tls_client_auth":
            assert self.client_id is not None
            form["client_id"] = self.client_id
        return form


class TokenExchangeAuth(_AssertionMixin):
    """Token exchange (RFC 8693), generic: trade ``subject_token`` for a token for ``audience``.

    ``subject_token`` may be a callable so a fresh upstream token is used for every exchange.
    Client authentication is a client assertion when ``signer`` is given, else ``client_id``.
    """

    grant_type = GRANT_TOKEN_EXCHANGE

    def __init__(
        self,
        token_endpoint: str,
        *,
        subject_token: str | Callable[[], str],
        subject_token_type: str = TOKEN_TYPE_ACCESS,
        requested_token_type: str | None = None,
        actor_token: str | None = None,
        actor_token_type: str | None = None,
        resource: str | None = None,
        signer: AssertionSigner | Credentials | None = None,
        client_id: str | None = None,
        scope: str | None = None,
        audience: str | None = None,
        assertion_audience: str | None = None,
        assertion_lifetime: int = DEFAULT_ASSERTION_LIFETIME,
        assertion_typ: str | None = "JWT",
        assertion_not_before: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(token_endpoint, client_id=client_id, scope=scope, audience=audience, **kwargs)
        self._init_assertion(
            signer,
            assertion_audience,
            assertion_lifetime,
            None,
            False,
            assertion_typ=assertion_typ,
            assertion_not_before=assertion_not_before,
        )
        if signer is not None and client_id is None:
            raise ConfigurationError("auth.client_id", "a client assertion needs a client_id")
        self.subject_token = subject_token
        self.subject_token_type = subject_token_type
        self.requested_token_type = requested_token_type
        self.actor_token = actor_token
        self.actor_token_type = actor_token_type
        self.resource = resource

    def key(self) -> CacheKey:
        """Tokens are cached per grant: subject (a callable by identity), actor and resource."""
        subject = self.subject_token
        shown = f"callable:{id(subject)}" if callable(subject) else f"token:{subject}"
        grant = "\n".join((shown, self.actor_token or "", self.resource or ""))
        return cache_key(
            self.token_endpoint,
            self.client_id,
            self.grant_type,
            scope=self.scope,
            audience=self.audience,
            grant=grant,
        )

    def token_form(self, now: float) -> dict[str, str]:
        """The RFC 8693 §2.1 form."""
        subject = self.subject_token() if callable(self.subject_token) else self.subject_token
        form = super().token_form(now)
        form.update(subject_token=subject, subject_token_type=self.subject_token_type)
        if self.requested_token_type:
            form["requested_token_type"] = self.requested_token_type
        if self.resource:
            form["resource"] = self.resource
        if self.actor_token:
            if not self.actor_token_type:
                raise ConfigurationError("auth.actor_token_type", "required with actor_token")
            form.update(actor_token=self.actor_token, actor_token_type=self.actor_token_type)
        form.update(self.client_authentication(now))
        return form
