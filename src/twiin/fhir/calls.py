"""Sans-I/O request values: what to send (:class:`RequestSpec`) and how to read the answer (:class:`Call`).

The facades turn a :class:`RequestSpec` into an ``httpx.Request`` with their client's
``build_request`` (so client defaults such as timeouts and User-Agent apply), send it, and hand
the response to :attr:`Call.parse`. Nothing here performs I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import attrs

from twiin._http.compat import httpx

__all__ = ["Call", "RequestSpec"]

T = TypeVar("T")


def _content_size(content: bytes | None) -> str:
    return "None" if content is None else f"<{len(content)} bytes>"


@attrs.frozen
class RequestSpec:
    """Method, absolute URL, headers, body and httpx request extensions of one request."""

    method: str
    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict)
    content: bytes | None = attrs.field(default=None, repr=_content_size)  # bodies carry BSNs
    extensions: Mapping[str, Any] = attrs.field(factory=dict)

    def build(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The ``httpx.Request`` built with ``client``'s defaults (headers, timeouts)."""
        return client.build_request(
            self.method,
            self.url,
            headers=dict(self.headers),
            content=self.content,
            extensions=dict(self.extensions),
        )

    def to_httpx(self) -> httpx.Request:
        """A standalone ``httpx.Request`` (for tests and for callers with their own sender)."""
        return httpx.Request(
            self.method,
            self.url,
            headers=dict(self.headers),
            content=self.content,
            extensions=dict(self.extensions),
        )


@attrs.frozen
class Call(Generic[T]):
    """A request and the parser of its response."""

    request: RequestSpec
    parse: Callable[[httpx.Response], T]
