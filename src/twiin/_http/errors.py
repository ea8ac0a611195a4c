"""Mapping of httpx exceptions onto the twiin tree.

A handshake refused for a missing or untrusted client certificate surfaces in httpx as a
``ReadError`` or ``ConnectError`` carrying an SSL alert; it becomes a :class:`~twiin.errors.TLSError`
(never retried), not a transient connection error.
"""

from __future__ import annotations

import ssl

from twiin import errors
from twiin._http.compat import httpx

__all__ = ["is_tls_failure", "map_transport_error"]

_TLS_MARKERS = (
    "SSL",
    "CERTIFICATE",
    "TLSV1_ALERT",
    "TLSV13_ALERT",
    "HANDSHAKE",
    "UNKNOWN_CA",
    "BAD_CERTIFICATE",
    "WRONG_VERSION_NUMBER",
)


def is_tls_failure(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause chain) is a TLS handshake or certificate failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError | ssl.CertificateError):
            return True
        text = str(current).upper()
        if any(marker in text for marker in _TLS_MARKERS):
            return True
        current = current.__cause__ or current.__context__
    return False


def map_transport_error(exc: httpx.TransportError, request: httpx.Request | None = None) -> errors.TwiinError:
    """The twiin error for an httpx transport failure (URL redacted, no payload echoed)."""
    url = request.url if request is not None else None
    method = request.method if request is not None else None
    if is_tls_failure(exc):
        reason = _tls_reason(exc)
        return errors.TLSError(f"TLS handshake failed: {reason}", url=url, method=method)
    if isinstance(exc, httpx.TimeoutException):
        return errors.TimeoutError(f"timed out ({type(exc).__name__})", url=url, method=method)
    if isinstance(exc, httpx.UnsupportedProtocol):
        err = errors.ConnectionError("unsupported protocol", url=url, method=method)
        err.retryable = False
        return err
    return errors.ConnectionError(f"connection failed ({type(exc).__name__})", url=url, method=method)


def _tls_reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in (
        "CERTIFICATE_REQUIRED",
        "UNKNOWN_CA",
        "CERTIFICATE_VERIFY_FAILED",
        "BAD_CERTIFICATE",
        "CERTIFICATE_EXPIRED",
        "HANDSHAKE_FAILURE",
        "PROTOCOL_VERSION",
        "WRONG_VERSION_NUMBER",
    ):
        if marker in text.upper():
            return marker.lower().replace("_", " ")
    return "peer refused the connection or its certificate"
