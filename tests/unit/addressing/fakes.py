"""An in-process fake mCSD directory (search, _history, paging) used as a BundleFetcher.

It implements just enough FHIR search for the addressing tests: ``_count``/``_offset`` paging
with ``next`` links, ``_lastUpdated=gt``, ``identifier``, ``partof``, ``partof.identifier``,
``organization`` (HealthcareService), ``_include=<Type>:endpoint`` and type-level
``_history?_since=`` with deletes. Server time is a counter: every write advances it a second.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from twiin.errors import NotFoundError

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class FakeDirectory:
    def __init__(self, base_url: str, *, history: bool = True, clock_start: dt.datetime = T0) -> None:
        self.base = base_url.rstrip("/")
        self.history_supported = history
        self.now = clock_start
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}
        self.log: list[tuple[dt.datetime, str, str, dict[str, Any] | None]] = []
        self.requests: list[str] = []
        self.versions: dict[tuple[str, str], int] = {}

    # --- writes ---------------------------------------------------------------------------
    def tick(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now

    def put(self, *resources: dict[str, Any]) -> None:
        for resource in resources:
            key = (resource["resourceType"], resource["id"])
            stamp = self.tick()
            version = self.versions.get(key, 0) + 1
            self.versions[key] = version
            stored = copy.deepcopy(resource)
            stored["meta"] = {**stored.get("meta", {}), "versionId": str(version), "lastUpdated": iso(stamp)}
            self.resources[key] = stored
            self.log.append((stamp, key[0], key[1], stored))

    def delete(self, rtype: str, rid: str) -> None:
        stamp = self.tick()
        self.resources.pop((rtype, rid), None)
        self.log.append((stamp, rtype, rid, None))

    # --- reads (BundleFetcher) ---------------------------------------------------------------
    def owns(self, url: str) -> bool:
        return url.startswith(self.base + "/")

    def get(self, url: str) -> Mapping[str, Any]:
        self.requests.append(url)
        parts = urlsplit(url)
        path = url.split("?", 1)[0][len(self.base) + 1 :]
        params = parse_qsl(parts.query, keep_blank_values=True)
        segments = path.split("/")
        if len(segments) == 2 and segments[1] == "_history":
            if not self.history_supported:
                raise NotFoundError("no type-level history", status=404, method="GET", url=url)
            return self._history(segments[0], params, url)
        if len(segments) != 1:
            raise NotFoundError("unknown path", status=404, method="GET", url=url)
        return self._search(segments[0], params)

    def _page(
        self, entries: list[dict[str, Any]], params: list[tuple[str, str]], path: str, btype: str
    ) -> dict[str, Any]:
        count = int(dict(params).get("_count", "20"))
        offset = int(dict(params).get("_offset", "0"))
        page = entries[offset : offset + count]
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": btype,
            "meta": {"lastUpdated": iso(self.now)},
            "total": len(entries),
            "entry": page,
            "link": [],
        }
        if offset + count < len(entries):
            rest = [(k, v) for k, v in params if k != "_offset"] + [("_offset", str(offset + count))]
            bundle["link"].append({"relation": "next", "url": f"{self.base}/{path}?{urlencode(rest)}"})
        return bundle

    def _history(self, rtype: str, params: list[tuple[str, str]], url: str) -> dict[str, Any]:
        since = dict(params).get("_since")
        cutoff = dt.datetime.fromisoformat(since) if since else None
        entries = []
        for stamp, etype, rid, resource in reversed(self.log):
            if etype != rtype or (cutoff is not None and stamp <= cutoff):
                continue
            if resource is None:
                entries.append(
                    {
                        "request": {"method": "DELETE", "url": f"{rtype}/{rid}"},
                        "response": {"status": "204", "lastModified": iso(stamp)},
                    }
                )
            else:
                entries.append(
                    {
                        "fullUrl": f"{self.base}/{rtype}/{rid}",
                        "resource": resource,
                        "request": {"method": "PUT", "url": f"{rtype}/{rid}"},
                    }
                )
        return self._page(entries, params, f"{rtype}/_history", "history")

    def _matches(self, resource: dict[str, Any], name: str, value: str) -> bool:
        if name == "identifier":
            system, _, code = value.partition("|")
            return any(
                i.get("system") == system and i.get("value") == code for i in resource.get("identifier", [])
            )
        if name == "partof":
            return (resource.get("partOf") or {}).get("reference") in value.split(",")
        if name == "partof.identifier":
            parent = (resource.get("partOf") or {}).get("reference", "")
            target = self.resources.get(tuple(parent.split("/", 1))) if "/" in parent else None  # type: ignore[arg-type]
            return target is not None and self._matches(target, "identifier", value)
        if name == "organization":
            return (resource.get("providedBy") or {}).get("reference") in value.split(",")
        if name == "_lastUpdated":
            assert value.startswith("gt")
            stamp = dt.datetime.fromisoformat(resource["meta"]["lastUpdated"].replace("Z", "+00:00"))
            return stamp > dt.datetime.fromisoformat(value[2:])
        raise AssertionError(f"fake directory does not support {name}")

    def _search(self, rtype: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        filters = [(k, v) for k, v in params if not k.startswith("_") or k == "_lastUpdated"]
        includes = [v for k, v in params if k == "_include"]
        matches = [
            r
            for (t, _), r in sorted(self.resources.items())
            if t == rtype and all(self._matches(r, k, v) for k, v in filters)
        ]
        entries: list[dict[str, Any]] = [
            {"fullUrl": f"{self.base}/{rtype}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in matches
        ]
        if includes:
            seen: set[str] = set()
            for r in matches:
                for ref in r.get("endpoint", []):
                    key = tuple(ref.get("reference", "").split("/", 1))
                    target = self.resources.get(key)  # type: ignore[arg-type]
                    if target is not None and target["id"] not in seen:
                        seen.add(target["id"])
                        entries.append({"resource": target, "search": {"mode": "include"}})
        return self._page(entries, params, rtype, "searchset")


class Network:
    """Several fake directories behind one fetcher, routed by URL prefix."""

    def __init__(self, *directories: FakeDirectory) -> None:
        self.directories = list(directories)
        self.fail_on: set[str] = set()

    def get(self, url: str) -> Mapping[str, Any]:
        for directory in self.directories:
            if directory.owns(url):
                if any(directory.base.startswith(f) for f in self.fail_on):
                    raise RuntimeError("simulated crash")
                return directory.get(url)
        raise NotFoundError("no such directory", status=404, method="GET", url=url)

    def requests(self) -> list[str]:
        return [u for d in self.directories for u in d.requests]


class AsyncNetwork:
    def __init__(self, network: Network) -> None:
        self.network = network

    async def get(self, url: str) -> Mapping[str, Any]:
        return self.network.get(url)
