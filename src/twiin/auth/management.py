"""Token introspection (RFC 7662) and revocation (RFC 7009) against an authorization server.

Sans-I/O request builders and answer parsers, plus thin sync/async facades. The caller
authenticates with a :class:`ClientAuthentication` (``private_key_jwt``, ``tls_client_auth`` or
``client_secret_basic``), sent through its own (mTLS) client.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs

from twiin._http.compat import httpx
from twiin.auth.jose import ASSERTION_TYPE, AssertionSigner, build_client_assertion
from twiin.auth.tokens import MAX_TOKEN_RESPONSE_BYTES
from twiin.errors import ResponseTooLarge, TokenRequestError

__all__ = [
    "ClientAuthentication",
    "ClientSecretBasic",
    "PrivateKeyJwt",
    "TlsClient",
    "aintrospect",
    "arevoke",
    "introspect",
    "introspection_request",
    "parse_introspection",
    "parse_revocation",
    "revocation_request",
    "revoke",
]


@attrs.frozen(repr=False)
class PrivateKeyJwt:
    """``private_key_jwt``: a fresh client assertion for every call (``aud`` defaults to the endpoint)."""

    signer: AssertionSigner
    client_id: str
    audience: str | None = None

    def __repr__(self) -> str:
        return f"PrivateKeyJwt(client_id={self.client_id!r})"

    def apply(self, endpoint: str) -> tuple[dict[str, str], dict[str, str]]:
        """Form fields and headers that authenticate us at ``endpoint``."""
        assertion = build_client_assertion(
            self.signer, client_id=self.client_id, audience=self.audience or endpoint, now=time.time()
        )
        return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}, {}


@attrs.frozen
class TlsClient:
    """``tls_client_auth``: the TLS client certificate authenticates; only ``client_id`` is sent."""

    client_id: str

    def apply(self, endpoint: str) -> tuple[dict[str, str], dict[str, str]]:
        """Form fields and headers that authenticate us at ``endpoint``."""
        return {"client_id": self.client_id}, {}


@attrs.frozen(repr=False)
class ClientSecretBasic:
    """``client_secret_basic`` (for resource servers that introspect; never for Twiin clients)."""

    client_id: str
    secret: str

    def __repr__(self) -> str:
        return f"ClientSecretBasic(client_id={self.client_id!r})"

    def apply(self, endpoint: str) -> tuple[dict[str, str], dict[str, str]]:
        """Form fields and headers that authenticate us at ``endpoint``."""
        raw = f"{quote(self.client_id, safe='')}:{quote(self.secret, safe='')}".encode()
        return {}, {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


ClientAuthentication = PrivateKeyJwt | TlsClient | ClientSecretBasic


def _request(endpoint: str, token: str, hint: str | None, auth: ClientAuthentication) -> httpx.Request:
    fields, headers = auth.apply(endpoint)
    form = {"token": token, **fields}
    if hint:
        form["token_type_hint"] = hint
    return httpx.Request("POST", endpoint, data=form, headers={"Accept": "application/json", **headers})


def introspection_request(
    endpoint: str, token: str, auth: ClientAuthentication, *, token_type_hint: str | None = None
) -> httpx.Request:
    """An RFC 7662 introspection request."""
    return _request(endpoint, token, token_type_hint, auth)


def revocation_request(
    endpoint: str, token: str, auth: ClientAuthentication, *, token_type_hint: str | None = None
) -> httpx.Request:
    """An RFC 7009 revocation request."""
    return _request(endpoint, token, token_type_hint, auth)


def _error(status: int, body: bytes, url: str) -> TokenRequestError:
    from twiin.auth.tokens import parse_token_response

    try:
        parse_token_response(status, {}, body, now=0.0, url=url)
    except TokenRequestError as exc:
        return exc
    return TokenRequestError(status, None, "unexpected answer", url=url)  # pragma: no cover


def parse_introspection(status: int, body: bytes, *, url: str) -> dict[str, Any]:
    """The introspection answer (always has a boolean ``active``) or ``TokenRequestError``."""
    if status != 200:
        raise _error(status, body, url)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise TokenRequestError(
            status, "invalid_response", "introspection answer is not JSON", url=url
        ) from None
    if not isinstance(payload, Mapping) or not isinstance(payload.get("active"), bool):
        raise TokenRequestError(status, "invalid_response", "introspection answer lacks 'active'", url=url)
    return dict(payload)


def parse_revocation(status: int, body: bytes, *, url: str) -> None:
    """Nothing on 200 (RFC 7009 §2.2: also for unknown tokens), else ``TokenRequestError``."""
    if status != 200:
        raise _error(status, body, url)


def _body(response: httpx.Response) -> bytes:
    if len(response.content) > MAX_TOKEN_RESPONSE_BYTES:
        raise ResponseTooLarge("answer too large", url=str(response.request.url))
    return response.content


def introspect(
    client: httpx.Client, endpoint: str, token: str, auth: ClientAuthentication, **kw: Any
) -> dict[str, Any]:
    """Introspect ``token`` at ``endpoint``."""
    response = client.send(introspection_request(endpoint, token, auth, **kw))
    return parse_introspection(response.status_code, _body(response), url=endpoint)


async def aintrospect(
    client: httpx.AsyncClient, endpoint: str, token: str, auth: ClientAuthentication, **kw: Any
) -> dict[str, Any]:
    """Async twin of :func:`introspect`."""
    response = await client.send(introspection_request(endpoint, token, auth, **kw))
    return parse_introspection(response.status_code, _body(response), url=endpoint)


def revoke(client: httpx.Client, endpoint: str, token: str, auth: ClientAuthentication, **kw: Any) -> None:
    """Revoke ``token`` at ``endpoint``."""
    response = client.send(revocation_request(endpoint, token, auth, **kw))
    parse_revocation(response.status_code, _body(response), url=endpoint)


async def arevoke(
    client: httpx.AsyncClient, endpoint: str, token: str, auth: ClientAuthentication, **kw: Any
) -> None:
    """Async twin of :func:`revoke`."""
    response = await client.send(revocation_request(endpoint, token, auth, **kw))
    parse_revocation(response.status_code, _body(response), url=endpoint)
