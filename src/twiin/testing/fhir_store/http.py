"""The FHIR REST face of :class:`MemoryFhirStore`: ``IncomingRequest`` in, ``Answer`` out."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from twiin import naming
from twiin.exchange.workflow.jsonpatch import JsonPatchError, apply
from twiin.fhir_version import FhirVersion
from twiin.serving import Answer, IncomingRequest
from twiin.testing.fhir_store import search as s
from twiin.testing.fhir_store.store import MemoryFhirStore, StoreError, Version

__all__ = ["FhirStoreServer"]

DEFAULT_COUNT = 50
MAX_COUNT = 500
HISTORY_PARAMS = frozenset({"_since", "_count", "_offset", "_format", "_pretty"})
READ_PARAMS = frozenset({"_format", "_pretty"})
_JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})


class FhirStoreServer:
    """Routes FHIR REST interactions to a store under ``base_path`` (e.g. ``/fhir``).

    ``read_only`` refuses every write (a Query Directory: its content comes from elsewhere).
    """

    def __init__(
        self,
        store: MemoryFhirStore,
        version: FhirVersion,
        *,
        base_path: str = "/fhir",
        validate: bool = True,
        public_base: Callable[[IncomingRequest], str] | None = None,
        entry_handler: Callable[[IncomingRequest], Answer] | None = None,
        read_only: bool = False,
    ) -> None:
        self.store = store
        self.version = version
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.validate = validate
        self._public_base = public_base
        self.entry_handler = entry_handler or self.handle
        self.read_only = read_only
        """Answers each entry of a batch/transaction (a guard in front of the store can hook in here)."""

    # -- entry point --------------------
    def __call__(self, request: IncomingRequest) -> Answer:
        return self.handle(request)

    def handle(self, request: IncomingRequest) -> Answer:
        """Answer one FHIR REST request."""
        try:
            return self._route(request)
        except StoreError as exc:
            return Answer.outcome(exc.status, exc.code, str(exc))

    def base_url(self, request: IncomingRequest) -> str:
        """The absolute base URL the client used."""
        if self._public_base:
            return self._public_base(request)
        parts = urlsplit(request.url)
        return f"{parts.scheme}://{parts.netloc}{self.base_path}"

    def _route(self, request: IncomingRequest) -> Answer:
        path = request.path
        if not path.startswith(self.base_path):
            raise StoreError(404, "not-found", "unknown base")
        segs = [p for p in path[len(self.base_path) :].split("/") if p]
        method = request.method.upper()
        params = request.query
        _check_format(request, params)
        searching = method == "POST" and segs[-1:] == ["_search"]
        if self.read_only and method not in ("GET", "HEAD") and not searching:
            raise StoreError(405, "not-supported", "this server is read-only")
        if method == "POST" and len(segs) == 2 and segs[1] == "_search":
            params = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
            return self._search(request, segs[0], params)
        if not segs:
            if method == "POST":
                return self._bundle(request)
            raise StoreError(400, "not-supported", "system-level search is not supported")
        if segs == ["metadata"]:
            return Answer.fhir(200, self._capabilities())
        if segs == ["_history"]:
            return self._history(request, None, None, params)
        type_ = segs[0]
        if not type_[:1].isupper() or not self._known(type_):
            raise StoreError(404, "not-supported", f"unknown resource type {type_[:64]!r}")
        if len(segs) == 1:
            return self._type_level(request, type_, method, params)
        if segs[1] == "_history" and len(segs) == 2:
            return self._history(request, type_, None, params)
        if segs[1].startswith("$"):
            return self._operation(request, type_, segs[1][1:], params)
        id_ = segs[1]
        if len(segs) == 2:
            _only(params, READ_PARAMS, "read")
            return self._instance(request, type_, id_, method)
        if type_ == "Patient" and len(segs) == 3 and segs[2][:1].isupper():
            if not self._known(segs[2]):
                raise StoreError(404, "not-supported", f"unknown resource type {segs[2][:64]!r}")
            return self._search(request, segs[2], params, compartment=("Patient", id_))
        if segs[2] == "_history" and len(segs) == 3:
            return self._history(request, type_, id_, params)
        if segs[2] == "_history" and len(segs) == 4:
            _only(params, READ_PARAMS, "vread")
            version = self.store.vread(type_, id_, segs[3])
            if version is None:
                raise StoreError(404, "not-found", "unknown version")
            if version.resource is None:
                raise StoreError(410, "deleted", "this version is a delete")
            return self._resource_answer(200, version)
        raise StoreError(400, "not-supported", "unsupported interaction")

    def _known(self, type_: str) -> bool:
        try:
            self.version.model_class(type_)
        except (ValueError, KeyError, ImportError):
            return False
        return True

    # -- interactions --------------------
    def _body(self, request: IncomingRequest, type_: str | None = None) -> dict[str, Any]:
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise StoreError(400, "structure", "body is not valid JSON") from None
        if not isinstance(body, dict):
            raise StoreError(400, "structure", "body is not a JSON object")
        if type_ is not None and body.get("resourceType") != type_:
            raise StoreError(400, "invalid", "resourceType does not match the URL")
        if body.get("resourceType") != "Bundle":
            self._validate(body)
        return body

    def _validate(self, resource: dict[str, Any]) -> None:
        if not self.validate:
            return
        try:
            self.version.model_class(str(resource.get("resourceType"))).model_validate(resource)
        except Exception as exc:  # pydantic ValidationError, KeyError for unknown types
            raise StoreError(422, "invalid", f"resource does not validate: {str(exc)[:300]}") from None

    def _type_level(
        self, request: IncomingRequest, type_: str, method: str, params: list[tuple[str, str]]
    ) -> Answer:
        if method == "GET":
            return self._search(request, type_, params)
        if method == "POST":
            body = self._body(request, type_)
            condition = request.headers.get("if-none-exist")
            if condition:
                version, created = self.store.conditional_create(body, parse_qsl(condition))
                return self._resource_answer(201 if created else 200, version, location=created)
            return self._resource_answer(201, self.store.create(body), location=True)
        if method == "PUT" and params:
            version, created = self.store.conditional_update(self._body(request, type_), params)
            return self._resource_answer(201 if created else 200, version, location=created)
        raise StoreError(405, "not-supported", f"{method} on a type is not supported")

    def _instance(self, request: IncomingRequest, type_: str, id_: str, method: str) -> Answer:
        if method in ("GET", "HEAD"):
            version = self.store.current(type_, id_)
            if version is None:
                gone = self.store.was_deleted(type_, id_)
                raise StoreError(410 if gone else 404, "deleted" if gone else "not-found", "no such resource")
            return self._resource_answer(200, version)
        if method == "PUT":
            body = self._body(request, type_)
            if body.get("id") != id_:
                raise StoreError(400, "invalid", "resource id does not match the URL")
            match = request.headers.get("if-match")
            if_match = match.removeprefix("W/").strip('"') if match else None
            version, created = self.store.update(body, if_match=if_match)
            return self._resource_answer(201 if created else 200, version, location=created)
        if method == "PATCH":
            return self._patch(request, type_, id_)
        if method == "DELETE":
            self.store.delete(type_, id_)
            return Answer(204)
        raise StoreError(405, "not-supported", f"{method} on an instance is not supported")

    def _patch(self, request: IncomingRequest, type_: str, id_: str) -> Answer:
        """JSON Patch (RFC 6902) of the current version, honouring ``If-Match``; FHIRPath Patch is refused."""
        if request.content_type != naming.JSON_PATCH:
            raise StoreError(415, "not-supported", f"only JSON Patch ({naming.JSON_PATCH}) is supported")
        current = self.store.current(type_, id_)
        if current is None or current.resource is None:
            raise StoreError(404, "not-found", "no such resource")
        match = request.headers.get("if-match")
        if match is not None and match.removeprefix("W/").strip('"') != current.version_id:
            raise StoreError(412, "conflict", "version mismatch (If-Match)")
        try:
            patched = apply(current.resource, json.loads(request.body))
        except (ValueError, UnicodeDecodeError):
            raise StoreError(400, "structure", "body is not valid JSON") from None
        except JsonPatchError as exc:
            raise StoreError(422, "processing", exc.message) from None
        if patched.get("resourceType") != type_ or patched.get("id") != id_:
            raise StoreError(422, "processing", "a patch may not change resourceType or id")
        self._validate(patched)
        version, _ = self.store.update(patched, if_match=current.version_id)
        return self._resource_answer(200, version)

    def _resource_answer(self, status: int, version: Version, *, location: bool = False) -> Answer:
        headers = {"etag": f'W/"{version.version_id}"', "last-modified": version.last_updated}
        if location:
            headers["location"] = f"{version.type}/{version.id}/_history/{version.version_id}"
        return Answer.fhir(status, version.resource, **headers)

    # -- search --------------------
    def _search(
        self,
        request: IncomingRequest,
        type_: str,
        params: Sequence[tuple[str, str]],
        *,
        compartment: tuple[str, str] | None = None,
        matches: list[dict[str, Any]] | None = None,
    ) -> Answer:
        found = matches if matches is not None else self.store.search(type_, params, compartment=compartment)
        found = _sorted(found, [v for k, v in params if k == "_sort"])
        count = min(MAX_COUNT, _int(params, "_count", DEFAULT_COUNT, minimum=0))
        offset = _int(params, "_offset", 0, minimum=0)
        page = found[offset : offset + count]
        entries = [self._entry(request, r, "match") for r in page]
        entries += [self._entry(request, r, "include") for r in self._includes(page, params)]
        base = self.base_url(request)
        path = urlsplit(request.url).path
        self_query = [(k, v) for k, v in params if k != "_offset"]
        links = [{"relation": "self", "url": _link(base, path, self.base_path, self_query, offset)}]
        if count and offset + count < len(found):
            links.append(
                {"relation": "next", "url": _link(base, path, self.base_path, self_query, offset + count)}
            )
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "link": links,
            "entry": entries,
        }
        return Answer.fhir(200, bundle)

    def _entry(self, request: IncomingRequest, resource: dict[str, Any], mode: str) -> dict[str, Any]:
        full = f"{self.base_url(request)}/{resource['resourceType']}/{resource['id']}"
        return {"fullUrl": full, "resource": resource, "search": {"mode": mode}}

    def _includes(
        self, page: list[dict[str, Any]], params: Sequence[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        seen = {(r["resourceType"], r["id"]) for r in page}
        extra: list[dict[str, Any]] = []

        def add(resource: dict[str, Any] | None) -> None:
            if resource and (resource["resourceType"], resource["id"]) not in seen:
                seen.add((resource["resourceType"], resource["id"]))
                extra.append(resource)

        for name, value in params:
            if name not in ("_include", "_revinclude"):
                continue
            parts = value.split(":")
            if len(parts) < 2 or s.param_def(parts[1]) is None:
                raise StoreError(400, "not-supported", f"{name}={value} is not supported")
            definition = s.param_def(parts[1])
            assert definition is not None
            target = parts[2] if len(parts) > 2 else None
            if name == "_include":
                for resource in page:
                    for path in definition.paths:
                        for ref in s.values_at(resource, path):
                            for rel in s.reference_targets(ref):
                                if target is None or rel.startswith(target + "/"):
                                    add(self.store.resolve(rel))
            else:
                for resource in page:
                    rel = f"{resource['resourceType']}/{resource['id']}"
                    for candidate in self.store.search(parts[0], [(parts[1], rel)]):
                        add(candidate)
        return extra

    def _operation(
        self, request: IncomingRequest, type_: str, name: str, params: list[tuple[str, str]]
    ) -> Answer:
        if type_ == "Observation" and name == "lastn":
            max_ = _int(params, "max", 1, minimum=1)
            criteria = [(k, v) for k, v in params if k != "max"]
            newest: dict[str, list[dict[str, Any]]] = {}
            found = self.store.search(type_, criteria)
            for obs in sorted(found, key=_effective, reverse=True):
                key = _code_key(obs)
                if len(newest.setdefault(key, [])) < max_:
                    newest[key].append(obs)
            matches = [o for group in newest.values() for o in group]
            return self._search(request, type_, criteria, matches=matches)
        raise StoreError(400, "not-supported", f"operation ${name} is not supported on {type_}")

    # -- history --------------------
    def _history(
        self, request: IncomingRequest, type_: str | None, id_: str | None, params: list[tuple[str, str]]
    ) -> Answer:
        _only(params, HISTORY_PARAMS, "history")
        since = _first(params, "_since")
        if since is not None:
            try:
                s.parse_instant(since)
            except ValueError:
                raise StoreError(400, "invalid", f"_since={since[:40]!r} is not a FHIR instant") from None
        versions = self.store.history(type_, id_, since)
        count = min(MAX_COUNT, _int(params, "_count", DEFAULT_COUNT, minimum=0))
        offset = _int(params, "_offset", 0, minimum=0)
        page = versions[offset : offset + count]
        base = self.base_url(request)
        entries = []
        for v in page:
            entry: dict[str, Any] = {"fullUrl": f"{base}/{v.type}/{v.id}"}
            if v.resource is not None:
                entry["resource"] = v.resource
                entry["request"] = {
                    "method": "PUT" if v.version_id != "1" else "POST",
                    "url": f"{v.type}/{v.id}",
                }
                entry["response"] = {
                    "status": "200",
                    "etag": f'W/"{v.version_id}"',
                    "lastModified": v.last_updated,
                }
            else:
                entry["request"] = {"method": "DELETE", "url": f"{v.type}/{v.id}"}
                entry["response"] = {"status": "410", "lastModified": v.last_updated}
            entries.append(entry)
        path = urlsplit(request.url).path
        query = [(k, v) for k, v in params if k != "_offset"]
        links = [{"relation": "self", "url": _link(base, path, self.base_path, query, offset)}]
        if count and offset + count < len(versions):
            links.append(
                {"relation": "next", "url": _link(base, path, self.base_path, query, offset + count)}
            )
        bundle = {
            "resourceType": "Bundle",
            "type": "history",
            "meta": {"lastUpdated": self.store.server_time()},
            "total": len(versions),
            "link": links,
            "entry": entries,
        }
        return Answer.fhir(200, bundle)

    # -- batch / transaction --------------------
    def _bundle(self, request: IncomingRequest) -> Answer:
        bundle = self._body(request)
        kind = bundle.get("type")
        if bundle.get("resourceType") != "Bundle" or kind not in ("batch", "transaction"):
            raise StoreError(400, "invalid", "POST to the base needs a batch or transaction Bundle")
        if kind == "batch":
            return self._entries(request, bundle, kind)
        try:
            with self.store.atomic():
                return self._entries(request, bundle, kind)
        except _RolledBack as failed:
            return failed.answer

    def _entries(self, request: IncomingRequest, bundle: dict[str, Any], kind: str) -> Answer:
        """Answer every entry as a request of the same caller; a failing transaction entry rolls back."""
        inherited = {k: v for k, v in request.headers.items() if k not in _ENTRY_HEADERS}
        responses = []
        for entry in bundle.get("entry") or []:
            req = entry.get("request") or {}
            url = f"{self.base_url(request)}/{str(req.get('url', '')).lstrip('/')}"
            body = json.dumps(entry["resource"]).encode() if "resource" in entry else b""
            headers = {**inherited, "content-type": "application/fhir+json"}
            if req.get("ifNoneExist"):
                headers["if-none-exist"] = req["ifNoneExist"]
            if req.get("ifMatch"):
                headers["if-match"] = req["ifMatch"]
            method = str(req.get("method", "GET"))
            sub = IncomingRequest(method, url, headers, body, peer_certificate=request.peer_certificate)
            answer = self.entry_handler(sub)
            if kind == "transaction" and answer.status >= 400:
                raise _RolledBack(answer)
            item: dict[str, Any] = {"response": {"status": str(answer.status)}}
            if "location" in answer.headers:
                item["response"]["location"] = answer.headers["location"]
            if "etag" in answer.headers:
                item["response"]["etag"] = answer.headers["etag"]
            if answer.body:
                item["resource"] = answer.json_body()
            responses.append(item)
        return Answer.fhir(200, {"resourceType": "Bundle", "type": f"{kind}-response", "entry": responses})

    def _capabilities(self) -> dict[str, Any]:
        return {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-01-01",
            "kind": "instance",
            "fhirVersion": self.version.release,
            "format": ["application/fhir+json"],
            "rest": [
                {"mode": "server", "interaction": [{"code": "transaction"}, {"code": "history-system"}]}
            ],
        }


_ENTRY_HEADERS = frozenset(
    {"content-length", "content-type", "if-match", "if-none-exist", "transfer-encoding"}
)


class _RolledBack(Exception):
    """A transaction entry failed: its answer is the transaction's answer, nothing stays written."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("transaction rolled back")
        self.answer = answer


def _first(params: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in params if k == name), None)


def _only(params: Sequence[tuple[str, str]], allowed: frozenset[str], interaction: str) -> None:
    unknown = sorted({k for k, _ in params} - allowed)
    if unknown:
        raise StoreError(
            400, "not-supported", f"{interaction} parameter {unknown[0][:40]!r} is not supported"
        )


def _int(params: Sequence[tuple[str, str]], name: str, default: int, *, minimum: int) -> int:
    text = _first(params, name)
    if text is None or text == "":
        return default
    if not text.isascii() or not text.isdigit() or int(text) < minimum:
        raise StoreError(400, "invalid", f"{name} must be an integer of at least {minimum}")
    return int(text)


def _check_format(request: IncomingRequest, params: Sequence[tuple[str, str]]) -> None:
    """Only JSON is spoken: ``_format`` or an ``Accept`` without JSON gets a 406 OperationOutcome."""
    wanted = _first(params, "_format")
    if wanted is not None and wanted.split(";")[0].strip() not in _JSON_FORMATS:
        raise StoreError(406, "not-supported", "only JSON (_format=json) is supported")
    accept = request.headers.get("accept", "")
    if accept and not any(k in accept for k in ("json", "*/*", "application/*")):
        raise StoreError(406, "not-supported", "only application/fhir+json is supported")


def _link(base: str, path: str, base_path: str, query: list[tuple[str, str]], offset: int) -> str:
    rel = path[len(base_path) :]
    items = [*query, ("_offset", str(offset))] if offset else query
    return f"{base}{rel}" + (f"?{urlencode(items)}" if items else "")


def _effective(resource: dict[str, Any]) -> str:
    value = resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get("start") or ""
    return str(value)


def _code_key(resource: dict[str, Any]) -> str:
    codings = (resource.get("code") or {}).get("coding") or [{}]
    return f"{codings[0].get('system')}|{codings[0].get('code')}"


def _sorted(resources: list[dict[str, Any]], sorts: list[str]) -> list[dict[str, Any]]:
    for key in reversed([k for spec in sorts for k in spec.split(",")]):
        name = key.lstrip("-")
        definition = s.param_def(name)
        if definition is None or definition.kind != "date":
            raise StoreError(400, "not-supported", f"_sort={key} is not supported")
        resources = sorted(
            resources,
            key=lambda r: next((str(v) for p in definition.paths for v in s.values_at(r, p)), ""),
            reverse=key.startswith("-"),
        )
    return resources
