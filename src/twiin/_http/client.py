"""``httpx.Client`` / ``httpx.AsyncClient`` factories and the error-mapping send helpers.

Every client made here has timeouts, redirects off, the retry transport, and redacted
request logging. Tests and vendors inject ``transport=`` (wrapped by the retry transport too)
or pass their own client to the higher layers.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Mapping
from typing import Any

from twiin._http.compat import httpx
from twiin._http.errors import map_transport_error
from twiin._http.retry import AsyncRetryTransport, RetryTransport
from twiin.config import RetryPolicy, Timeouts
from twiin.errors import ResponseTooLarge, redact_url
from twiin.redaction import RedactingFilter, get_logger

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "asend",
    "create_async_client",
    "create_client",
    "send",
    "to_httpx_timeout",
]

log = get_logger("twiin.http")

# httpx logs every request URL, query string included (INFO), and httpcore its trace with the
# response headers (DEBUG); a search by BSN would put the BSN in those lines. Redact them too.
# A logger's filters do not reach its children: httpcore logs only on the named children.
_THIRD_PARTY_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
for _name in _THIRD_PARTY_LOGGERS:
    _third_party = logging.getLogger(_name)
    if not any(isinstance(f, RedactingFilter) for f in _third_party.filters):
        _third_party.addFilter(RedactingFilter())

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
USER_AGENT = "twiin-python"


def to_httpx_timeout(timeouts: Timeouts) -> httpx.Timeout:
    """The httpx form of a :class:`~twiin.config.Timeouts`."""
    return httpx.Timeout(
        connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
    )


def _log_request(request: httpx.Request) -> None:
    if log.isEnabledFor(logging.DEBUG):  # redact_url parses the URL: skip it when nobody listens
        log.debug("-> %s %s", request.method, redact_url(request.url))


def _log_response(response: httpx.Response) -> None:
    if log.isEnabledFor(logging.DEBUG):
        request = response.request
        log.debug("<- %s %s %s", response.status_code, request.method, redact_url(request.url))


async def _alog_request(request: httpx.Request) -> None:
    _log_request(request)


async def _alog_response(response: httpx.Response) -> None:
    _log_response(response)


def _headers(extra: Mapping[str, str] | None) -> dict[str, str]:
    from twiin._version import __version__

    headers = {"User-Agent": f"{USER_AGENT}/{__version__}"}
    headers.update(extra or {})
    return headers


def create_client(
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeouts: Timeouts | None = None,
    retry: RetryPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
    auth: httpx.Auth | None = None,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    limits: httpx.Limits | None = None,
) -> httpx.Client:
    """A configured synchronous client. ``ssl_context`` comes from :mod:`twiin._http.tls`."""
    inner = transport or httpx.HTTPTransport(
        verify=ssl_context if ssl_context is not None else True,
        limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )
    policy = retry or RetryPolicy()
    return httpx.Client(
        transport=RetryTransport(inner, policy) if policy.max_attempts > 1 else inner,
        timeout=to_httpx_timeout(timeouts or Timeouts()),
        follow_redirects=False,
        auth=auth,
        base_url=base_url,
        headers=_headers(headers),
        event_hooks={"request": [_log_request], "response": [_log_response]},
    )


def create_async_client(
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeouts: Timeouts | None = None,
    retry: RetryPolicy | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    auth: httpx.Auth | None = None,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    limits: httpx.Limits | None = None,
) -> httpx.AsyncClient:
    """A configured asynchronous client. ``ssl_context`` comes from :mod:`twiin._http.tls`."""
    inner = transport or httpx.AsyncHTTPTransport(
        verify=ssl_context if ssl_context is not None else True,
        limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )
    policy = retry or RetryPolicy()
    return httpx.AsyncClient(
        transport=AsyncRetryTransport(inner, policy) if policy.max_attempts > 1 else inner,
        timeout=to_httpx_timeout(timeouts or Timeouts()),
        follow_redirects=False,
        auth=auth,
        base_url=base_url,
        headers=_headers(headers),
        event_hooks={"request": [_alog_request], "response": [_alog_response]},
    )


def send(
    client: httpx.Client,
    request: httpx.Request,
    *,
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    **kwargs: Any,
) -> httpx.Response:
    """Send ``request``, read at most ``max_bytes`` of body, map transport errors to twiin errors."""
    try:
        response = client.send(request, stream=True, **kwargs)
    except httpx.TransportError as exc:
        raise map_transport_error(exc, request) from None
    declared = _declared_length(response)
    if declared is not None:  # framed by Content-Length: the transport reads no more than that
        try:
            _refuse_above(declared, max_bytes, request)
            response.read()
        except httpx.TransportError as exc:
            raise map_transport_error(exc, request) from None
        finally:
            response.close()
        return _checked(response, request, max_bytes)
    try:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            _refuse_above(size, max_bytes, request)
            chunks.append(chunk)
    except httpx.TransportError as exc:
        raise map_transport_error(exc, request) from None
    finally:
        response.close()
    return _complete(response, b"".join(chunks))


async def asend(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    **kwargs: Any,
) -> httpx.Response:
    """Async twin of :func:`send`."""
    try:
        response = await client.send(request, stream=True, **kwargs)
    except httpx.TransportError as exc:
        raise map_transport_error(exc, request) from None
    declared = _declared_length(response)
    if declared is not None:
        try:
            _refuse_above(declared, max_bytes, request)
            await response.aread()
        except httpx.TransportError as exc:
            raise map_transport_error(exc, request) from None
        finally:
            await response.aclose()
        return _checked(response, request, max_bytes)
    try:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            _refuse_above(size, max_bytes, request)
            chunks.append(chunk)
    except httpx.TransportError as exc:
        raise map_transport_error(exc, request) from None
    finally:
        await response.aclose()
    return _complete(response, b"".join(chunks))


def _declared_length(response: httpx.Response) -> int | None:
    """The body size declared by an unencoded response's Content-Length (None: unknown or encoded)."""
    headers = response.headers
    encoding = headers.get("content-encoding")
    length = headers.get("content-length")
    if (encoding and encoding.strip().lower() != "identity") or length is None or not length.isdigit():
        return None
    return int(length)


def _refuse_above(size: int, max_bytes: int, request: httpx.Request) -> None:
    if size > max_bytes:
        raise ResponseTooLarge(f"response exceeds {max_bytes} bytes", url=request.url, method=request.method)


def _checked(response: httpx.Response, request: httpx.Request, max_bytes: int) -> httpx.Response:
    """``response`` once read; its length is checked again for transports that do not enforce framing."""
    _refuse_above(len(response.content), max_bytes, request)
    return response


def _complete(streamed: httpx.Response, body: bytes) -> httpx.Response:
    """A fully read response carrying ``body`` (content decoding already applied)."""
    headers = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() != "content-encoding"]
    response = httpx.Response(
        streamed.status_code,
        headers=headers,
        content=body,
        request=streamed.request,
        extensions=streamed.extensions,
    )
    with contextlib.suppress(RuntimeError):  # some transports never report elapsed time
        response.elapsed = streamed.elapsed
    return response
