"""The only package that imports httpx: TLS contexts, retries, error mapping, client factories."""

from twiin._http.client import (
    DEFAULT_MAX_RESPONSE_BYTES,
    asend,
    create_async_client,
    create_client,
    send,
    to_httpx_timeout,
)
from twiin._http.errors import is_tls_failure, map_transport_error
from twiin._http.retry import AsyncRetryTransport, RetryTransport, parse_retry_after
from twiin._http.tls import client_ssl_context, server_ssl_context

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AsyncRetryTransport",
    "RetryTransport",
    "asend",
    "client_ssl_context",
    "create_async_client",
    "create_client",
    "is_tls_failure",
    "map_transport_error",
    "parse_retry_after",
    "send",
    "server_ssl_context",
    "to_httpx_timeout",
]
