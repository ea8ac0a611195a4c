"""The sans-I/O FHIR REST core: one :class:`~twiin.fhir.calls.Call` per interaction.

Each method returns what to send and how to read the answer; :class:`~twiin.fhir.FhirClient` and
:class:`~twiin.fhir.AsyncFhirClient` only send. Version ids are opaque strings throughout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

from twiin import naming
from twiin._http.compat import httpx
from twiin._http.retry import RETRY_EXTENSION
from twiin.errors import ConfigurationError, ModelValidationError
from twiin.fhir.bundles import TransactionResult, correlate
from twiin.fhir.calls import Call, RequestSpec
from twiin.fhir.content import resource_type_of, serialize, to_dict
from twiin.fhir.outcome import error_for_response
from twiin.fhir.paging import Pager, entry_resources, resolve_same_origin
from twiin.fhir.result import FhirResult, if_match_header, result_from_response
from twiin.fhir.search import SearchParams, encode_value
from twiin.fhir_version import FhirVersion

__all__ = ["FhirCore", "Params"]

Params = SearchParams | Mapping[str, Any] | str | None
"""Search parameters: typed, a mapping, or a raw query string (escape hatch)."""

_ACCEPT = f"{naming.FHIR_JSON}, {naming.FHIR_XML};q=0.9, application/json;q=0.8"
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


def _check_type(resource_type: str) -> str:
    if not resource_type or not resource_type.isalpha() or not resource_type[0].isupper():
        raise ConfigurationError("type", f"invalid resource type {resource_type!r}")
    return resource_type


def _check_id(value: str, what: str = "id") -> str:
    if not isinstance(value, str) or not value or len(value) > 64 or not set(value) <= _ID_CHARS:
        raise ConfigurationError(what, "must be 1-64 characters of [A-Za-z0-9-.]")
    return value


def _query(params: Params) -> str:
    if params is None:
        return ""
    if isinstance(params, str):
        query = params.strip().lstrip("?")
        if "#" in query or any(c in query for c in "\r\n "):
            raise ConfigurationError("params", "a raw query string may not contain spaces, newlines or '#'")
        return query
    return SearchParams.of(params).to_query()


def _strip_slash(url: object) -> str:
    return str(url).rstrip("/")


@attrs.frozen
class FhirCore:
    """Builds FHIR requests against ``base_url`` and parses the answers for ``version``."""

    base_url: str = attrs.field(converter=_strip_slash)
    version: FhirVersion = attrs.field(default=FhirVersion.R4, converter=FhirVersion)
    raw: bool = False
    max_pages: int = 1000

    def __attrs_post_init__(self) -> None:
        url = httpx.URL(self.base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigurationError("base_url", "must be an absolute http(s) URL")
        if self.max_pages < 1:
            raise ConfigurationError("max_pages", "must be >= 1")

    # --- plumbing ---------------------------------------------------------------------

    def url(self, *segments: str, query: str = "") -> str:
        """``base_url`` joined with path segments and an optional query string."""
        path = "/".join([self.base_url, *segments])
        return f"{path}?{query}" if query else path

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": _ACCEPT}
        headers.update(extra or {})
        return headers

    def _body(self, resource: Any) -> bytes:
        return serialize(resource)

    def _spec(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        retry: bool | None = None,
    ) -> RequestSpec:
        all_headers = self._headers(headers)
        if content is not None and "Content-Type" not in all_headers:
            all_headers["Content-Type"] = f"{naming.FHIR_JSON}; charset=utf-8"
        extensions = {RETRY_EXTENSION: retry} if retry is not None else {}
        return RequestSpec(method, url, all_headers, content, extensions)

    def parse_result(self, response: httpx.Response) -> FhirResult:
        """A 2xx response as a :class:`FhirResult`; any other status raises the mapped error."""
        if not 200 <= response.status_code < 300:
            raise error_for_response(response, self.version)
        return result_from_response(response, self.version, raw_mode=self.raw)

    def _call(self, spec: RequestSpec, expect: str | None = None) -> Call[FhirResult]:
        if expect is None:
            return Call(spec, self.parse_result)

        def parse(response: httpx.Response) -> FhirResult:
            result = self.parse_result(response)
            if result.json is not None and result.resource_type not in (expect, "OperationOutcome"):
                raise ModelValidationError(
                    f"expected a {expect}, got {result.resource_type!r}", resource_type=expect, raw=result.raw
                )
            return result

        return Call(spec, parse)

    # --- instance and type interactions ----------------------------------------------

    def read(self, type: str, id: str) -> Call[FhirResult]:
        """GET ``Type/id``."""
        return self._call(self._spec("GET", self.url(_check_type(type), _check_id(id))), expect=type)

    def vread(self, type: str, id: str, version_id: str) -> Call[FhirResult]:
        """GET ``Type/id/_history/vid`` (the version id is opaque)."""
        url = self.url(_check_type(type), _check_id(id), "_history", _check_id(version_id, "version_id"))
        return self._call(self._spec("GET", url), expect=type)

    def create(self, resource: Any, *, if_none_exist: Params = None) -> Call[FhirResult]:
        """POST ``resource`` to its type; ``if_none_exist`` makes it conditional (and retry-safe)."""
        rtype = _check_type(resource_type_of(resource))
        headers = {}
        if if_none_exist is not None:
            headers["If-None-Exist"] = _query(if_none_exist)
        spec = self._spec(
            "POST",
            self.url(rtype),
            headers=headers,
            content=self._body(resource),
            retry=bool(headers) or None,
        )
        return self._call(spec, expect=rtype)

    def update(self, resource: Any, *, if_match: str | None = None) -> Call[FhirResult]:
        """PUT ``resource`` at ``Type/id``; ``if_match`` is a version id or an ETag."""
        data = to_dict(resource)
        rtype = _check_type(resource_type_of(data))
        rid = data.get("id")
        if not isinstance(rid, str):
            raise ConfigurationError("resource", "update needs a resource with an id")
        headers = {"If-Match": if_match_header(if_match)} if if_match else {}
        body = self._body(resource)
        spec = self._spec("PUT", self.url(rtype, _check_id(rid)), headers=headers, content=body)
        return self._call(spec, expect=rtype)

    def conditional_update(self, type: str, params: Params, resource: Any) -> Call[FhirResult]:
        """PUT ``resource`` at ``Type?params`` (create on no match, update on one, 412 on several)."""
        query = _query(params)
        if not query:
            raise ConfigurationError("params", "a conditional update needs search parameters")
        if resource_type_of(resource) != type:
            raise ConfigurationError("resource", f"resource is not a {type}")
        spec = self._spec("PUT", self.url(_check_type(type), query=query), content=self._body(resource))
        return self._call(spec, expect=type)

    def patch(
        self, type: str, id: str, ops: Sequence[Mapping[str, Any]], *, if_match: str | None = None
    ) -> Call[FhirResult]:
        """PATCH ``Type/id`` with a JSON Patch document (``application/json-patch+json``)."""
        if not isinstance(ops, Sequence) or not all(isinstance(op, Mapping) and "op" in op for op in ops):
            raise ConfigurationError("ops", "a JSON Patch is a list of operations with an 'op'")
        headers = {"Content-Type": naming.JSON_PATCH}
        if if_match:
            headers["If-Match"] = if_match_header(if_match)
        content = json.dumps([dict(op) for op in ops]).encode("utf-8")
        url = self.url(_check_type(type), _check_id(id))
        return self._call(self._spec("PATCH", url, headers=headers, content=content), expect=type)

    def delete(self, type: str, id: str) -> Call[FhirResult]:
        """DELETE ``Type/id``; 404 and 410 both mean the resource is gone and return normally."""
        spec = self._spec("DELETE", self.url(_check_type(type), _check_id(id)))
        return Call(spec, self._parse_delete)

    def _parse_delete(self, response: httpx.Response) -> FhirResult:
        if response.status_code in (404, 410):
            return FhirResult(
                status=response.status_code,
                headers=response.headers,
                raw=response.content,
                json=None,
                resource=None,
                version=self.version,
                url=str(response.request.url),
            )
        return self.parse_result(response)

    def history(
        self, type: str | None = None, id: str | None = None, *, since: Any = None, count: int | None = None
    ) -> Call[FhirResult]:
        """GET ``[Type[/id]]/_history`` with optional ``_since`` and ``_count``."""
        if id is not None and type is None:
            raise ConfigurationError("id", "instance history needs a type")
        segments = [s for s in (type and _check_type(type), id and _check_id(id)) if s]
        params = SearchParams()
        if since is not None:
            params = params.add("_since", encode_value(since))
        if count is not None:
            params = params.count(count)
        return self._call(self._spec("GET", self.url(*segments, "_history", query=params.to_query())))

    # --- search ----------------------------------------------------------------------

    def search(self, type: str, params: Params = None) -> Call[FhirResult]:
        """GET ``Type?params`` (a str is sent as the query string as it is)."""
        return self._call(self._spec("GET", self.url(_check_type(type), query=_query(params))))

    def search_url(self, url: str) -> Call[FhirResult]:
        """GET an absolute or base-relative URL (next links, Notified Pull query inputs) on our origin."""
        target = resolve_same_origin(self.base_url, self._relative(url))
        return self._call(self._spec("GET", target))

    def _relative(self, url: str) -> str:
        if "://" in url:
            return url
        return f"{self.base_url}/{url.lstrip('/')}"

    def pager(self, type_or_url: str, params: Params = None) -> Pager:
        """Paging state for a search by type (``"Task"``) or by URL (``"Task?x=y"``, absolute)."""
        if type_or_url.isalpha():
            first = self.search(type_or_url, params).request
        else:
            if params is not None:
                raise ConfigurationError("params", "give parameters either in the URL or separately")
            first = self.search_url(type_or_url).request
        return Pager(self.base_url, first, self.parse_result, max_pages=self.max_pages)

    def page_resources(self, page: FhirResult, *, matches_only: bool = False) -> list[Any]:
        """The resources of a search page: models in typed mode, dicts in raw mode."""
        source = page.resource if page.resource is not None else page.json
        return list(entry_resources(source, matches_only=matches_only))

    # --- operations, bundles, capabilities -------------------------------------------

    def operation(
        self,
        name: str,
        *,
        type: str | None = None,
        id: str | None = None,
        params: Params = None,
        method: Literal["GET", "POST"] = "GET",
        body: Any = None,
    ) -> Call[FhirResult]:
        """``[Type[/id]]/$name``: GET with query parameters, or POST with ``body`` (e.g. Parameters)."""
        op = name if name.startswith("$") else f"${name}"
        if not op[1:] or not all(c.isalnum() or c in "-_" for c in op[1:]):
            raise ConfigurationError("name", f"invalid operation name {name!r}")
        if id is not None and type is None:
            raise ConfigurationError("id", "an instance operation needs a type")
        segments = [s for s in (type and _check_type(type), id and _check_id(id)) if s]
        url = self.url(*segments, op, query=_query(params))
        if method == "GET":
            if body is not None:
                raise ConfigurationError("body", "a GET operation has no body")
            return self._call(self._spec("GET", url))
        if method != "POST":
            raise ConfigurationError("method", "operations use GET or POST")
        content = self._body(body) if body is not None else None
        return self._call(self._spec("POST", url, content=content))

    def capabilities(self) -> Call[FhirResult]:
        """GET ``/metadata``."""
        return self._call(self._spec("GET", self.url("metadata")))

    def bundle(self, bundle: Any, expected: Literal["transaction", "batch"]) -> Call[TransactionResult]:
        """POST a batch or transaction Bundle (dict, model or BundleBuilder) to the base URL."""
        data = bundle.build() if hasattr(bundle, "build") else to_dict(bundle)
        if data.get("resourceType") != "Bundle" or data.get("type") != expected:
            raise ConfigurationError("bundle", f"expected a Bundle of type {expected!r}")
        spec = self._spec("POST", self.base_url, content=serialize(data))

        def parse(response: httpx.Response) -> TransactionResult:
            result = self.parse_result(response)
            if result.json is None:
                raise ModelValidationError(f"{expected} answered without a Bundle", raw=result.raw)
            entries = correlate(data, result.json)
            if result.resource is not None:
                models = [e.resource for e in (result.resource.entry or [])]
                entries = [attrs.evolve(e, resource=m) for e, m in zip(entries, models, strict=True)]
            return TransactionResult(result, tuple(entries))

        return Call(spec, parse)
