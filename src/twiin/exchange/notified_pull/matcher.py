"""Match an incoming read or search against what an authorization base allows.

The comparison is on a normal form: the path relative to the FHIR base (no empty or dot
segments), and the query parameters percent-decoded, with comma-separated alternatives sorted
and the parameter list sorted. A request is allowed when its normal form equals an allowed read
or search exactly; paging parameters (``_count``, ``_offset``, ...) may be added to an allowed
search, and paging links the server itself handed out for an allowed search are allowed too.
Anything else -- another resource, a changed or extra parameter, another method -- is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs

__all__ = ["DEFAULT_PAGING_PARAMS", "MatchResult", "NormalisedRequest", "RequestMatcher", "normalise"]

MAX_REMEMBERED_PAGES = 10_000
DEFAULT_PAGING_PARAMS = frozenset(
    {"_count", "_offset", "_page", "_getpages", "_getpagesoffset", "_pagesoffset", "_cursor", "_format"}
)


@attrs.frozen
class NormalisedRequest:
    """A read or search in normal form: relative path and sorted decoded parameters."""

    path: str
    params: tuple[tuple[str, str], ...]

    @property
    def resource_type(self) -> str:
        """The first path segment (``Observation`` for ``Observation/$lastn``)."""
        return self.path.split("/", 1)[0]

    def without(self, names: frozenset[str]) -> NormalisedRequest:
        """This request without the parameters in ``names``."""
        return NormalisedRequest(self.path, tuple(p for p in self.params if p[0] not in names))

    def __str__(self) -> str:
        return self.path + ("?" + "&".join(f"{k}={v}" for k, v in self.params) if self.params else "")


def _norm_value(value: str) -> str:
    return ",".join(sorted(part.strip() for part in value.split(",")))


def normalise(target: str, base_path: str = "", *, allow_root: bool = False) -> NormalisedRequest:
    """The normal form of ``target``: a relative ``Type?query`` or an absolute path/URL under ``base_path``.

    Raises ``ValueError`` when the target lies outside the base or has dot segments.
    """
    parts = urlsplit(target)
    path = unquote(parts.path)
    base = "/" + base_path.strip("/") if base_path.strip("/") else ""
    if parts.scheme or parts.netloc or path.startswith("/"):
        if base and not (path == base or path.startswith(base + "/")):
            raise ValueError("request is outside the FHIR base")
        path = path[len(base) :]
    segments = [s for s in path.split("/") if s]
    if (not segments and not allow_root) or any(s in (".", "..") for s in segments):
        raise ValueError("request path is empty or has dot segments")
    params = sorted((unquote(k), _norm_value(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return NormalisedRequest("/".join(segments), tuple(params))


@attrs.frozen
class MatchResult:
    """Whether a request is allowed, which allowed entry it matched, and why not otherwise."""

    allowed: bool
    reason: str
    matched: NormalisedRequest | None = None
    request: NormalisedRequest | None = None


class RequestMatcher:
    """The reads and searches one authorization base allows, plus paging links handed out for them."""

    def __init__(
        self,
        reads: Iterable[str] = (),
        queries: Iterable[str] = (),
        *,
        base_path: str = "",
        paging_params: frozenset[str] = DEFAULT_PAGING_PARAMS,
    ) -> None:
        self.base_path = base_path
        self.paging_params = paging_params
        self._reads = frozenset(normalise(r) for r in reads)
        self._queries = frozenset(normalise(q) for q in queries)
        self._pages: dict[NormalisedRequest, NormalisedRequest] = {}
        self._lock = threading.Lock()

    @property
    def allowed(self) -> frozenset[NormalisedRequest]:
        """Every allowed read and search in normal form."""
        return self._reads | self._queries

    def match(self, method: str, target: str) -> MatchResult:
        """Decide on one request (``target`` is a URL, an absolute path or a relative reference)."""
        if method.upper() not in ("GET", "HEAD"):
            return MatchResult(False, "only reads and searches (GET) are allowed")
        try:
            request = normalise(target, self.base_path, allow_root=True)
        except ValueError as exc:
            return MatchResult(False, str(exc))
        if request in self._reads or request in self._queries:
            return MatchResult(True, "allowed", request, request)
        with self._lock:
            origin = self._pages.get(request)
        if origin is not None:
            return MatchResult(True, "paging link of an allowed search", origin, request)
        stripped = request.without(self.paging_params)
        if stripped != request and stripped in self._queries:
            return MatchResult(True, "allowed search with paging parameters", stripped, request)
        return MatchResult(False, "request is not one of the reads or searches the authorization base allows",
                           None, request)  # fmt: skip

    def remember_page(self, link: str, origin: NormalisedRequest) -> bool:
        """Allow a paging link the server returned for ``origin`` (an allowed search); False if refused."""
        with self._lock:
            if origin not in self._queries or len(self._pages) >= MAX_REMEMBERED_PAGES:
                return False
            try:
                page = normalise(link, self.base_path, allow_root=True)
            except ValueError:
                return False
            self._pages[page] = origin
        return True
