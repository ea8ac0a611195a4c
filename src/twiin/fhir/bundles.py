"""Batch and transaction Bundles: a builder for requests and correlation of response entries.

FHIR answers a batch or transaction with a Bundle whose entries are in the same order as the
request's; :func:`correlate` pairs them up so each request entry gets its status, location,
ETag, resource and OperationOutcome.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

from twiin import naming
from twiin.errors import ConfigurationError, FHIRError, ModelValidationError
from twiin.fhir.content import parse_resource, resource_type_of, to_dict
from twiin.fhir.result import FhirResult, if_match_header, version_id_from_etag
from twiin.fhir.search import SearchParams
from twiin.fhir_version import FhirVersion

__all__ = ["BundleBuilder", "EntryResult", "TransactionResult", "correlate"]

BundleType = Literal["transaction", "batch"]


def _query(params: SearchParams | Mapping[str, Any] | str | None) -> str:
    if params is None:
        return ""
    if isinstance(params, str):
        return params.lstrip("?")
    return SearchParams.of(params).to_query()


class BundleBuilder:
    """Builds a ``transaction`` or ``batch`` Bundle entry by entry.

    Created resources get a ``urn:uuid:`` fullUrl (returned), which other entries may use as a
    reference; the server rewrites it in a transaction.
    """

    def __init__(self, type: BundleType = "transaction", version: FhirVersion = FhirVersion.R4) -> None:
        if type not in ("transaction", "batch"):
            raise ConfigurationError("type", "a Bundle to send is a 'transaction' or a 'batch'")
        self.type = type
        self.version = FhirVersion(version)
        self._entries: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def _add(
        self, method: str, url: str, resource: Any = None, full_url: str | None = None, **extra: str
    ) -> str:
        request: dict[str, Any] = {"method": method, "url": url}
        request.update({k: v for k, v in extra.items() if v})
        entry: dict[str, Any] = {}
        if full_url:
            entry["fullUrl"] = full_url
        if resource is not None:
            entry["resource"] = to_dict(resource)
        entry["request"] = request
        self._entries.append(entry)
        return full_url or url

    def create(
        self,
        resource: Any,
        *,
        full_url: str | None = None,
        if_none_exist: SearchParams | Mapping[str, Any] | str | None = None,
    ) -> str:
        """POST ``resource``; returns its fullUrl (``urn:uuid:...`` unless given)."""
        rtype = resource_type_of(resource)
        return self._add(
            "POST",
            rtype,
            resource,
            full_url or f"urn:uuid:{uuid.uuid4()}",
            ifNoneExist=_query(if_none_exist),
        )

    def update(self, resource: Any, *, if_match: str | None = None) -> str:
        """PUT ``resource`` at ``Type/id`` (optionally version-guarded)."""
        data = to_dict(resource)
        rid = data.get("id")
        if not isinstance(rid, str) or not rid:
            raise ConfigurationError("resource", "update needs a resource with an id")
        url = f"{resource_type_of(data)}/{rid}"
        return self._add("PUT", url, data, None, ifMatch=if_match_header(if_match) if if_match else "")

    def conditional_update(
        self, type: str, params: SearchParams | Mapping[str, Any] | str, resource: Any
    ) -> str:
        """PUT ``resource`` at ``Type?params``."""
        return self._add("PUT", f"{type}?{_query(params)}", resource)

    def patch(
        self, type: str, id: str, ops: Sequence[Mapping[str, Any]], *, if_match: str | None = None
    ) -> str:
        """JSON Patch inside a Bundle: a Binary resource carrying the patch document."""
        encoded = base64.b64encode(json.dumps(list(ops)).encode("utf-8")).decode("ascii")
        binary: dict[str, Any] = {"resourceType": "Binary", "contentType": naming.JSON_PATCH}
        binary["content" if self.version is FhirVersion.STU3 else "data"] = encoded
        return self._add(
            "PATCH", f"{type}/{id}", binary, None, ifMatch=if_match_header(if_match) if if_match else ""
        )

    def delete(self, type: str, id: str) -> str:
        """DELETE ``Type/id``."""
        return self._add("DELETE", f"{type}/{id}")

    def read(self, type: str, id: str) -> str:
        """GET ``Type/id``."""
        return self._add("GET", f"{type}/{id}")

    def search(self, type: str, params: SearchParams | Mapping[str, Any] | str | None = None) -> str:
        """GET ``Type?params``."""
        query = _query(params)
        return self._add("GET", f"{type}?{query}" if query else type)

    def build(self) -> dict[str, Any]:
        """The Bundle as FHIR JSON (dict)."""
        return {"resourceType": "Bundle", "type": self.type, "entry": [dict(e) for e in self._entries]}

    def model(self) -> Any:
        """The Bundle validated as a model of this builder's version."""
        return parse_resource(self.build(), self.version)


def _status_code(status: Any) -> int:
    text = str(status or "").strip()
    head = text.split(" ", 1)[0]
    if not head.isdigit():
        raise ModelValidationError(f"response entry has an invalid status {text[:40]!r}")
    return int(head)


@attrs.frozen
class EntryResult:
    """One request entry paired with its response entry."""

    index: int
    method: str
    url: str
    full_url: str | None
    status: int
    location: str | None
    etag: str | None
    resource: Any
    outcome: Any

    @property
    def ok(self) -> bool:
        """True for a 2xx entry status."""
        return 200 <= self.status < 300

    @property
    def version_id(self) -> str | None:
        """The version id from the entry's ETag, else the returned resource's ``meta.versionId``."""
        from_etag = version_id_from_etag(self.etag)
        if from_etag:
            return from_etag
        resource = self.resource
        meta = resource.get("meta") if isinstance(resource, Mapping) else getattr(resource, "meta", None)
        vid = meta.get("versionId") if isinstance(meta, Mapping) else getattr(meta, "versionId", None)
        return vid if isinstance(vid, str) and vid else None

    @property
    def id(self) -> str | None:
        """The logical id from the location or the returned resource."""
        if self.location:
            parts = [p for p in self.location.split("?")[0].split("/") if p]
            if "_history" in parts:
                parts = parts[: parts.index("_history")]
            if len(parts) >= 2:
                return parts[-1]
        if isinstance(self.resource, Mapping):
            rid = self.resource.get("id")
            return rid if isinstance(rid, str) else None
        return getattr(self.resource, "id", None)


def correlate(request: Mapping[str, Any], response: Mapping[str, Any]) -> list[EntryResult]:
    """Pair request entries with response entries (same order, per the FHIR spec)."""
    sent = request.get("entry") or []
    got = response.get("entry") or []
    if len(sent) != len(got):
        raise ModelValidationError(
            f"{response.get('type', 'Bundle')} has {len(got)} entries for {len(sent)} requests"
        )
    results = []
    for index, (req, res) in enumerate(zip(sent, got, strict=True)):
        answer = res.get("response") or {}
        request_part = req.get("request") or {}
        results.append(
            EntryResult(
                index=index,
                method=str(request_part.get("method", "")),
                url=str(request_part.get("url", "")),
                full_url=req.get("fullUrl"),
                status=_status_code(answer.get("status")),
                location=answer.get("location"),
                etag=answer.get("etag"),
                resource=res.get("resource"),
                outcome=answer.get("outcome"),
            )
        )
    return results


@attrs.frozen(repr=False)
class TransactionResult:
    """The answer to a batch or transaction: the response Bundle and one :class:`EntryResult` per entry."""

    result: FhirResult
    entries: tuple[EntryResult, ...]

    def __repr__(self) -> str:
        failed = sum(not e.ok for e in self.entries)
        return f"TransactionResult({len(self.entries)} entries, {failed} failed)"

    def __iter__(self) -> Any:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> EntryResult:
        return self.entries[index]

    @property
    def ok(self) -> bool:
        """True when every entry succeeded."""
        return all(e.ok for e in self.entries)

    def by_full_url(self, full_url: str) -> EntryResult:
        """The entry whose request had ``full_url`` (e.g. a ``urn:uuid:`` from the builder)."""
        for entry in self.entries:
            if entry.full_url == full_url:
                return entry
        raise KeyError(full_url)

    def raise_for_errors(self) -> TransactionResult:
        """Raise FHIRError for the first failed entry (batch entries fail independently)."""
        for entry in self.entries:
            if not entry.ok:
                raise FHIRError(
                    f"entry {entry.index} ({entry.method} {entry.url.split('?')[0]}) -> {entry.status}",
                    status=entry.status,
                    method=entry.method,
                    operation_outcome=entry.outcome,
                )
        return self
