"""An in-memory, versioned FHIR store (JSON dicts) for tests and the sandbox.

Keeps every version of every resource, so it can answer vread and ``_history`` (with
deletes), and supports conditional create/update, ``If-Match``, all-or-nothing blocks of writes
(:meth:`MemoryFhirStore.atomic`, for transactions), search with ``_include``,
``_revinclude``, ``_sort`` on dates, ``$lastn`` and patient-compartment scoping. It works for
STU3 and R4 alike because it stores plain JSON. Not a production server.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from twiin.testing.fhir_store import search as s

__all__ = ["MemoryFhirStore", "StoreError", "Version"]


class StoreError(Exception):
    """A request the store refuses; carries the HTTP status and OperationOutcome code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@attrs.frozen
class Version:
    """One stored version; ``resource`` is None for a delete."""

    type: str
    id: str
    version_id: str
    last_updated: str
    resource: dict[str, Any] | None


def _now_iso(clock: Callable[[], datetime]) -> str:
    return clock().astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MemoryFhirStore:
    """Thread-safe in-memory store; ``search`` and friends work on plain dict resources."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._versions: dict[tuple[str, str], list[Version]] = {}
        self._log: list[Version] = []
        self._last = datetime.min.replace(tzinfo=UTC)

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """All writes in the block happen together or, when it raises, not at all (other threads wait)."""
        with self._lock:
            mark = len(self._log)
            try:
                yield
            except BaseException:
                for version in reversed(self._log[mark:]):
                    history = self._versions[(version.type, version.id)]
                    history.pop()
                    if not history:
                        del self._versions[(version.type, version.id)]
                del self._log[mark:]
                raise

    def server_time(self) -> str:
        """The store's clock as a FHIR instant (strictly increasing between calls)."""
        with self._lock:
            return self._stamp()

    # -- writes ---------------------------------------------------------------------------------
    def _stamp(self) -> str:
        now = self._clock().astimezone(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if now <= self._last:
            now = self._last + timedelta(milliseconds=1)
        self._last = now
        return _now_iso(lambda: now)

    def _write(self, type_: str, id_: str, resource: dict[str, Any] | None) -> Version:
        history = self._versions.setdefault((type_, id_), [])
        version_id = str(len(history) + 1)
        stamp = self._stamp()
        stored = None
        if resource is not None:
            stored = copy.deepcopy(resource)
            stored["id"] = id_
            meta = dict(stored.get("meta") or {})
            meta.update(versionId=version_id, lastUpdated=stamp)
            stored["meta"] = meta
        version = Version(type_, id_, version_id, stamp, stored)
        history.append(version)
        self._log.append(version)
        return version

    def create(self, resource: Mapping[str, Any], *, id: str | None = None) -> Version:
        """Store a new resource (server-assigned id unless ``id`` is given)."""
        type_ = _type_of(resource)
        with self._lock:
            new_id = id or str(uuid.uuid4())
            if self.current(type_, new_id) is not None:
                raise StoreError(409, "duplicate", f"{type_}/{new_id} exists")
            return self._write(type_, new_id, dict(resource))

    def update(self, resource: Mapping[str, Any], *, if_match: str | None = None) -> tuple[Version, bool]:
        """Update (or create with the given id); returns the version and whether it was created."""
        type_, id_ = _type_of(resource), resource.get("id")
        if not isinstance(id_, str) or not id_:
            raise StoreError(400, "required", "update needs a resource id")
        with self._lock:
            current = self.current(type_, id_)
            if if_match is not None and (current is None or current.version_id != if_match):
                raise StoreError(412, "conflict", "version mismatch (If-Match)")
            return self._write(type_, id_, dict(resource)), current is None

    def delete(self, type_: str, id_: str) -> bool:
        """Delete; returns False when there was nothing to delete."""
        with self._lock:
            if self.current(type_, id_) is None:
                return False
            self._write(type_, id_, None)
            return True

    def conditional_create(
        self, resource: Mapping[str, Any], criteria: Sequence[tuple[str, str]]
    ) -> tuple[Version, bool]:
        """Create unless ``criteria`` match one resource (then return it); several matches -> 412."""
        type_ = _type_of(resource)
        with self._lock:
            found = self.search(type_, criteria)
            if len(found) > 1:
                raise StoreError(412, "multiple-matches", "conditional create matched several resources")
            if found:
                existing = self.current(type_, found[0]["id"])
                assert existing is not None
                return existing, False
            return self.create(resource), True

    def conditional_update(
        self, resource: Mapping[str, Any], criteria: Sequence[tuple[str, str]]
    ) -> tuple[Version, bool]:
        """Update the one match of ``criteria``, or create when none; several matches -> 412."""
        type_ = _type_of(resource)
        with self._lock:
            found = self.search(type_, criteria)
            if len(found) > 1:
                raise StoreError(412, "multiple-matches", "conditional update matched several resources")
            body = dict(resource)
            if found:
                body["id"] = found[0]["id"]
                return self.update(body)
            return self.create(body, id=body.get("id")), True

    # -- reads -----------------------------------------------------------------------------------
    def current(self, type_: str, id_: str) -> Version | None:
        """The newest version, or None when absent or deleted."""
        history = self._versions.get((type_, id_))
        if not history or history[-1].resource is None:
            return None
        return history[-1]

    def was_deleted(self, type_: str, id_: str) -> bool:
        """True when the resource existed and its newest version is a delete."""
        history = self._versions.get((type_, id_)) or []
        return bool(history) and history[-1].resource is None

    def vread(self, type_: str, id_: str, version_id: str) -> Version | None:
        """A specific version (None when unknown)."""
        for version in self._versions.get((type_, id_), []):
            if version.version_id == version_id:
                return version
        return None

    def history(
        self, type_: str | None = None, id_: str | None = None, since: str | None = None
    ) -> list[Version]:
        """Versions newest first, filtered by type, id and ``since`` (at or after it, as ``_since``)."""
        with self._lock:
            items = [
                v for v in self._log if (type_ is None or v.type == type_) and (id_ is None or v.id == id_)
            ]
        if since is not None:
            bound = s.parse_instant(since)
            items = [v for v in items if s.parse_instant(v.last_updated) >= bound]
        return list(reversed(items))

    def all_current(self, type_: str) -> list[dict[str, Any]]:
        """Every current resource of ``type_``, in insertion order."""
        with self._lock:
            return [
                h[-1].resource
                for (t, _), h in self._versions.items()
                if t == type_ and h[-1].resource is not None
            ]

    def search(
        self,
        type_: str,
        params: Iterable[tuple[str, str]],
        *,
        compartment: tuple[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Resources of ``type_`` matching every (name, value) pair; result parameters ignored."""
        criteria = [(k, v) for k, v in params if k not in s.RESULT_PARAMS]
        for name, value in criteria:
            check_criterion(name, value)
        results = []
        for resource in self.all_current(type_):
            if compartment is not None and not _in_compartment(resource, compartment):
                continue
            if all(_matches(resource, name, value, self.resolve) for name, value in criteria):
                results.append(resource)
        return results

    def resolve(self, reference: str) -> dict[str, Any] | None:
        """The current resource a relative reference points at."""
        target = s.relative_reference(reference)
        if "/" not in target:
            return None
        type_, id_ = target.split("/", 1)
        version = self.current(type_, id_)
        return version.resource if version else None


_MODIFIERS: dict[s.Kind, frozenset[str]] = {
    "token": frozenset({"", "not"}),
    "string": frozenset({"", "exact", "contains"}),
    "date": frozenset({""}),
    "reference": frozenset({"", "identifier"}),
}


def check_criterion(name: str, query: str) -> None:
    """Refuse (400 OperationOutcome) a parameter, modifier, chain or value the store cannot answer."""
    base, _, modifier = name.partition(":")
    base, _, chain = base.partition(".")
    definition = s.param_def(base)
    if definition is None:
        raise StoreError(400, "not-supported", f"search parameter {name!r} is not supported")
    if chain and (definition.kind != "reference" or chain != "identifier" or modifier):
        raise StoreError(400, "not-supported", f"chained parameter {name!r} is not supported")
    type_modifier = definition.kind == "reference" and modifier[:1].isupper()
    if modifier not in _MODIFIERS[definition.kind] and not type_modifier:
        raise StoreError(400, "not-supported", f"modifier {modifier!r} of {base!r} is not supported")
    if definition.kind == "date":
        for alternative in query.split(","):
            try:
                s.parse_date_query(alternative)
            except ValueError:
                raise StoreError(400, "invalid", f"{name}: {alternative!r} is not a FHIR date") from None


def _type_of(resource: Mapping[str, Any]) -> str:
    type_ = resource.get("resourceType")
    if not isinstance(type_, str) or not type_:
        raise StoreError(400, "structure", "resourceType missing")
    return type_


def _in_compartment(resource: Mapping[str, Any], compartment: tuple[str, str]) -> bool:
    ctype, cid = compartment
    if resource.get("resourceType") == ctype:
        return resource.get("id") == cid
    target = f"{ctype}/{cid}"
    paths = ("subject", "patient", "for", "beneficiary")
    return s.match_reference((v for p in paths for v in s.values_at(resource, p)), target)


def _matches(
    resource: Mapping[str, Any],
    name: str,
    query: str,
    resolve: Callable[[str], dict[str, Any] | None],
) -> bool:
    base, _, modifier = name.partition(":")
    chain = None
    if "." in base:
        base, chain = base.split(".", 1)
    definition = s.param_def(base)
    assert definition is not None
    values = [v for path in definition.paths for v in s.values_at(resource, path)]
    alternatives = query.split(",")
    if definition.kind == "reference":
        if modifier == "identifier":
            return any(s.match_reference_identifier(values, q) for q in alternatives)
        if chain == "identifier":
            targets = [resolve(t) for v in values for t in s.reference_targets(v)]
            idents = [i for t in targets if t for i in s.values_at(t, "identifier")]
            return any(
                s.match_reference_identifier(values, q) or s.match_token(idents, q) for q in alternatives
            )
        if chain is not None:
            raise StoreError(400, "not-supported", f"chained parameter {name!r} is not supported")
        if modifier:  # a type modifier (partof:Organization=1): only references to that type
            alternatives = [q if "/" in q else f"{modifier}/{q}" for q in alternatives]
            values = [v for v in values for t in s.reference_targets(v) if t.startswith(modifier + "/")]
        return any(s.match_reference(values, s.relative_reference(q)) for q in alternatives)
    if definition.kind == "token":
        if modifier == "not":
            return not any(s.match_token(values, q) for q in alternatives)
        return any(s.match_token(values, q) for q in alternatives)
    if definition.kind == "string":
        return any(s.match_string(values, q, modifier or None) for q in alternatives)
    return any(s.match_date(values, q) for q in alternatives)
