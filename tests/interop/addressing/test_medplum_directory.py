"""Addressing against the Medplum R4 peer seeded as an mCSD Query Directory.

Medplum (FHIR semantics: search, ``_include``, chained parameters) is independent; its paging
links come from the team-written adapter. It has no type-level ``_history``, so the sync must
fall back to ``_lastUpdated=gt`` searches and say so.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.addressing import mcsd_fixtures as fx
from twiin.addressing import (
    DirectoryCache,
    DirectorySync,
    EndpointPolicy,
    LiveDirectory,
    SqliteDirectoryStore,
    SyncMode,
    SyncOptions,
    UnitKind,
)
from twiin.addressing import payload_types as pt
from twiin.errors import EndpointNotFound
from twiin.fhir import FhirClient, FhirVersion

pytestmark = pytest.mark.peer

POLICY = EndpointPolicy.for_tests()  # the peer listens on plain http://127.0.0.1


def _ura() -> str:
    return f"{random.randrange(10**7, 10**8)}"


def _create(fhir: FhirClient, resource: dict[str, Any]) -> str:
    body = {k: v for k, v in resource.items() if k not in ("id", "meta")}
    return str(fhir.create(body).json["id"])  # type: ignore[index]


class Seeded:
    """One care provider (organisation, department, service) and one with many endpoints."""

    def __init__(self, fhir: FhirClient) -> None:
        self.ura, self.busy_ura = _ura(), _ura()
        notify = _create(
            fhir,
            fx.endpoint(
                "x",
                "https://np.interop.test/fhir",
                pt.TWIIN_TA_NOTIFICATION,
                mime="application/fhir+json; fhirVersion=3.0",
            ),
        )
        bgz = _create(fhir, fx.endpoint("x", "https://bgz.interop.test/fhir", pt.BGZ_SERVER))
        vendor = _create(fhir, fx.endpoint("x", "https://vendor.interop.test/fhir", pt.TWIIN_TA_NOTIFICATION))
        cardio_ep = _create(
            fhir, fx.endpoint("x", "https://cardio.interop.test/fhir", pt.TWIIN_TA_NOTIFICATION)
        )
        uro_ep = _create(fhir, fx.endpoint("x", "https://uro.interop.test/fhir", pt.BGZ_SERVER))
        self.org = _create(
            fhir, fx.organization("x", "Interop Ziekenhuis", ura=self.ura, endpoints=(notify, bgz))
        )
        self.dept = _create(
            fhir, fx.organization("x", "Cardiologie", part_of=self.org, endpoints=(cardio_ep,))
        )
        self.service = _create(fhir, fx.service("x", "Urologie", self.dept, endpoints=(uro_ep,)))
        # an Endpoint managed by (vendor) this organisation but not linked from it: must not be found
        ep = fx.endpoint("x", "https://vendor.interop.test/fhir", pt.TWIIN_TA_NOTIFICATION)
        ep["managingOrganization"] = {"reference": f"Organization/{self.org}"}
        self.vendor_only = _create(fhir, ep)
        del vendor
        self.busy_endpoints = [
            _create(fhir, fx.endpoint("x", f"https://h{i:02}.interop.test/fhir", pt.TWIIN_TA_NOTIFICATION))
            for i in range(23)
        ]
        self.busy = _create(
            fhir,
            fx.organization("x", "Druk Centrum", ura=self.busy_ura, endpoints=tuple(self.busy_endpoints)),
        )


@pytest.fixture(scope="module")
def fhir(medplum_base_url: str) -> Iterator[FhirClient]:
    with FhirClient(medplum_base_url, FhirVersion.R4, raw=True) as client:
        yield client


@pytest.fixture(scope="module")
def seeded(fhir: FhirClient) -> Seeded:
    return Seeded(fhir)


def test_live_resolve_by_ura_with_include_and_chained_departments(
    medplum_base_url: str, seeded: Seeded
) -> None:
    with LiveDirectory(medplum_base_url, policy=POLICY) as live:
        found = live.resolve(seeded.ura, pt.TWIIN_TA_NOTIFICATION)
        assert [e.address for e in found] == [
            "https://np.interop.test/fhir",
            "https://cardio.interop.test/fhir",
        ]
        assert found[0].organization.name == "Interop Ziekenhuis"
        assert found[0].fhir_version is FhirVersion.STU3
        assert found[1].unit is not None
        assert (found[1].unit.kind, found[1].unit.id) == (UnitKind.DEPARTMENT, seeded.dept)
        bgz = live.resolve(seeded.ura, pt.BGZ_SERVER)
        assert [e.address for e in bgz] == ["https://bgz.interop.test/fhir", "https://uro.interop.test/fhir"]
        assert bgz[1].unit is not None
        assert (bgz[1].unit.kind, bgz[1].unit.id) == (UnitKind.HEALTHCARE_SERVICE, seeded.service)
        with pytest.raises(EndpointNotFound):
            live.resolve(seeded.ura, pt.EOVERDRACHT_SERVER)


def test_chained_search_on_the_peer(fhir: FhirClient, seeded: Seeded) -> None:
    result = fhir.search(
        "Organization", f"partof.identifier={fx.URA}|{seeded.ura}&_include=Organization:endpoint"
    )
    kinds = sorted(e["resource"]["resourceType"] for e in result.json["entry"])  # type: ignore[index]
    assert kinds == ["Endpoint", "Organization"]
    # Endpoint?organization= follows managingOrganization (the vendor): not a provider's endpoints
    vendor = fhir.search("Endpoint", f"organization=Organization/{seeded.org}")
    assert [e["resource"]["id"] for e in vendor.json["entry"]] == [seeded.vendor_only]  # type: ignore[index]


def test_live_resolve_pages_through_includes(medplum_base_url: str, seeded: Seeded) -> None:
    with LiveDirectory(medplum_base_url, policy=POLICY, page_size=5) as live:
        found = live.resolve(seeded.busy_ura, pt.TWIIN_TA_NOTIFICATION)
    assert sorted(e.address for e in found) == [f"https://h{i:02}.interop.test/fhir" for i in range(23)]


def test_sync_falls_back_to_last_updated_and_reloads(
    medplum_base_url: str, fhir: FhirClient, seeded: Seeded
) -> None:
    options = SyncOptions(policy=POLICY, page_size=200)
    with (
        SqliteDirectoryStore.in_memory() as store,
        DirectorySync(store, query_directories=[medplum_base_url], options=options) as job,
    ):
        first = job.run()
        assert first.ok, first.errors
        assert first.sources[0].mode is SyncMode.FULL
        cache = DirectoryCache(store, policy=POLICY)
        assert len(cache.resolve(seeded.busy_ura, pt.TWIIN_TA_NOTIFICATION)) == 23
        assert [e.address for e in cache.resolve(seeded.ura, pt.BGZ_SERVER)] == [
            "https://bgz.interop.test/fhir",
            "https://uro.interop.test/fhir",
        ]
        time.sleep(1.1)  # _lastUpdated has millisecond precision; keep the change clearly after the cursor
        moved = fx.endpoint(
            seeded.busy_endpoints[0], "https://moved.interop.test/fhir", pt.TWIIN_TA_NOTIFICATION
        )
        moved["id"] = seeded.busy_endpoints[0]
        fhir.update({k: v for k, v in moved.items() if k != "meta"})
        fhir.delete("Endpoint", seeded.busy_endpoints[1])
        second = job.run()
        [source] = second.sources
        assert source.ok, source.error
        assert source.mode is SyncMode.LAST_UPDATED
        assert second.history_fallback
        assert "_lastUpdated" in source.notes[0]
        assert source.counts["Endpoint"].updated == 1
        addresses = {e.address for e in cache.resolve(seeded.busy_ura, pt.TWIIN_TA_NOTIFICATION)}
        assert "https://moved.interop.test/fhir" in addresses
        assert "https://h01.interop.test/fhir" in addresses  # the delete is not visible without _history
        third = job.run(full=True)
        assert third.sources[0].mode is SyncMode.FULL
        assert third.counts()["Endpoint"].deleted >= 1
        addresses = {e.address for e in cache.resolve(seeded.busy_ura, pt.TWIIN_TA_NOTIFICATION)}
        assert "https://h01.interop.test/fhir" not in addresses
        assert len(addresses) == 22
