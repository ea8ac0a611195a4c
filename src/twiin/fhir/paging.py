"""Following Bundle ``next`` links safely: same origin only, bounded page count, no repeats."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from twiin._http.compat import httpx
from twiin.errors import PagingError, UnsafeEndpoint, redact_url
from twiin.fhir.calls import RequestSpec
from twiin.fhir.result import FhirResult

__all__ = ["Pager", "bundle_link", "entry_resources", "resolve_same_origin", "same_origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def bundle_link(bundle: Mapping[str, Any] | None, relation: str) -> str | None:
    """The URL of the Bundle link with ``relation`` (e.g. ``next``), if present."""
    links = (bundle or {}).get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, Mapping) and link.get("relation") == relation:
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    scheme = url.scheme.lower()
    return scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(scheme)


def same_origin(a: httpx.URL | str, b: httpx.URL | str) -> bool:
    """True when both URLs share scheme, host and port."""
    return _origin(httpx.URL(a)) == _origin(httpx.URL(b))


def resolve_same_origin(base_url: str, url: str) -> str:
    """``url`` made absolute against ``base_url``; another origin raises UnsafeEndpoint."""
    base = httpx.URL(base_url.rstrip("/") + "/")
    try:
        target = base.join(url)
    except (httpx.InvalidURL, ValueError):
        raise UnsafeEndpoint(f"invalid URL {redact_url(url)}") from None
    if not same_origin(base, target):
        raise UnsafeEndpoint(f"refusing a URL on another origin: {redact_url(target)}")
    return str(target)


def entry_resources(bundle: Any, *, matches_only: bool = False) -> Iterator[Any]:
    """The ``entry.resource`` values of a Bundle model or dict (``matches_only`` skips includes)."""
    if isinstance(bundle, Mapping):
        for entry in bundle.get("entry") or []:
            if not isinstance(entry, Mapping) or entry.get("resource") is None:
                continue
            mode = (entry.get("search") or {}).get("mode")
            if matches_only and mode not in (None, "match"):
                continue
            yield entry["resource"]
        return
    for entry in getattr(bundle, "entry", None) or []:
        if entry.resource is None:
            continue
        mode = entry.search.mode if entry.search is not None else None
        if matches_only and mode not in (None, "match"):
            continue
        yield entry.resource


class Pager:
    """Sans-I/O paging state: the next request to send and the guard on ``next`` links.

    A ``next`` link on another origin, a link already visited, or more than ``max_pages`` pages
    raise :class:`~twiin.errors.PagingError`.
    """

    def __init__(
        self,
        base_url: str,
        first: RequestSpec,
        parse: Callable[[httpx.Response], FhirResult],
        *,
        max_pages: int,
    ) -> None:
        self._base_url = base_url
        self._parse = parse
        self._next: RequestSpec | None = first
        self._template = first
        self._seen: set[str] = {str(httpx.URL(first.url))}
        self._max_pages = max_pages
        self.pages = 0

    def next_request(self) -> RequestSpec | None:
        """The request for the next page, or None when done."""
        return self._next

    def accept(self, response: httpx.Response) -> FhirResult:
        """Parse a page and compute the following request."""
        page = self._parse(response)
        self.pages += 1
        self._next = None
        link = bundle_link(page.json, "next")
        if link is None:
            return page
        if self.pages >= self._max_pages:
            raise PagingError(f"more than {self._max_pages} pages; stopping")
        try:
            url = resolve_same_origin(self._base_url, link)
        except UnsafeEndpoint as exc:
            raise PagingError(f"next link refused: {exc.message}") from None
        key = str(httpx.URL(url))
        if key in self._seen:
            raise PagingError(f"server repeated a paging link ({redact_url(url)})")
        self._seen.add(key)
        self._next = RequestSpec("GET", url, headers=self._template.headers)
        return page
