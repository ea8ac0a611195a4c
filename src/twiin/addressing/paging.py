"""Following a search's ``next`` links, sans I/O: same origin only, bounded, no loops."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from twiin.errors import AddressingError, PagingError, UnsafeEndpoint, redact_url

__all__ = ["Fetch", "follow", "next_link", "same_origin"]


@attrs.frozen
class Fetch:
    """A request from a sans-I/O generator: GET ``url`` and send back the JSON Bundle."""

    url: str


def next_link(bundle: Mapping[str, Any]) -> str | None:
    """The Bundle's ``next`` link, if any."""
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, Mapping) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


def same_origin(a: str, b: str) -> bool:
    """True when both URLs share scheme, host and port."""
    try:
        return _origin(a) == _origin(b)
    except ValueError:
        return False


def follow(
    url: str, origin: str, on_page: Callable[[Mapping[str, Any]], None], *, max_pages: int
) -> Generator[Fetch, Any, int]:
    """Fetch ``url`` and its ``next`` pages, handing each Bundle to ``on_page``; returns the page count."""
    seen: set[str] = set()
    current: str | None = url
    while current is not None:
        if current in seen:
            raise PagingError(f"paging loop at {redact_url(current)}")
        if len(seen) >= max_pages:
            raise PagingError(f"more than {max_pages} pages for {redact_url(url)}")
        seen.add(current)
        bundle = yield Fetch(current)
        if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
            raise AddressingError(f"directory did not answer a Bundle for {redact_url(current)}")
        on_page(bundle)
        current = next_link(bundle)
        if current is not None and not same_origin(current, origin):
            raise UnsafeEndpoint(f"refusing a next link to another origin: {redact_url(current)}")
    return len(seen)
