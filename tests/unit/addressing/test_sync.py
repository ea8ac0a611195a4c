"""Directory sync against fake LRZa + provider directories: authority, spoofing, increments."""

from __future__ import annotations

import datetime as dt

import pytest

from twiin.addressing import (
    DirectoryCache,
    DirectorySync,
    SourceKind,
    SqliteDirectoryStore,
    SyncMode,
    SyncOptions,
    SyncProgress,
    UnitKind,
)
from twiin.addressing import payload_types as pt
from twiin.errors import EndpointNotFound
from twiin.fhir_version import FhirVersion

from . import mcsd_fixtures as fx
from .fakes import FakeDirectory, Network


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def net() -> Network:
    return fx.network()


@pytest.fixture
def store() -> SqliteDirectoryStore:
    s = SqliteDirectoryStore.in_memory()
    yield s
    s.close()


def sync(store: SqliteDirectoryStore, net: Network, **kw: object) -> DirectorySync:
    return DirectorySync(store, root=fx.LRZA, fetcher=net, **kw)  # type: ignore[arg-type]


def test_full_sync_discovers_provider_directories_and_resolves(
    net: Network, store: SqliteDirectoryStore
) -> None:
    report = sync(store, net).run()
    assert report.ok
    assert [s.mode for s in report.sources] == [SyncMode.FULL] * 4
    assert {s.ura for s in report.sources} == {None, fx.URA_LINDE, fx.URA_OOST, fx.URA_SPOOF}
    cache = DirectoryCache(store)
    [linde] = cache.resolve(fx.URA_LINDE, pt.TWIIN_TA_NOTIFICATION)
    assert linde.address == "https://np.linde.test/fhir"
    assert linde.organization.name == "Huisartsenpraktijk De Linde"  # LRZa is authoritative for the name
    assert linde.fhir_version is FhirVersion.STU3
    assert linde.unit is None
    [bgz] = cache.resolve("11111111", pt.BGZ_SERVER.code)
    assert bgz.address == "https://bgz.linde.test/fhir"
    assert bgz.fhir_version is FhirVersion.STU3  # implied by the BgZ 2017 capability


def test_departments_and_services_ordered_after_the_organisation(
    net: Network, store: SqliteDirectoryStore
) -> None:
    sync(store, net).run()
    cache = DirectoryCache(store)
    found = cache.resolve(fx.URA_OOST, pt.TWIIN_TA_NOTIFICATION)
    assert [e.address for e in found] == [
        "https://fhir.oost.test/r4",
        "https://fhir.oost.test/stu3",
        "https://cardio.oost.test/fhir",
    ]
    assert found[2].unit is not None
    assert found[2].unit.kind is UnitKind.DEPARTMENT
    assert found[2].unit.name == "Cardiologie"
    [uro] = cache.resolve(fx.URA_OOST, pt.BGZ_SERVER)  # inactive "old" endpoint is left out
    assert uro.unit is not None
    assert uro.unit.kind is UnitKind.HEALTHCARE_SERVICE
    assert uro.unit.name == "Urologie"
    assert cache.resolve(fx.URA_OOST, pt.TWIIN_TA_NOTIFICATION) == found  # deterministic


def test_fhir_version_filter(net: Network, store: SqliteDirectoryStore) -> None:
    sync(store, net).run()
    cache = DirectoryCache(store)
    stu3 = cache.resolve(fx.URA_OOST, pt.TWIIN_TA_NOTIFICATION, fhir_version=FhirVersion.STU3)
    assert [e.address for e in stu3] == ["https://fhir.oost.test/stu3", "https://cardio.oost.test/fhir"]
    r4 = cache.resolve(fx.URA_OOST, pt.TWIIN_TA_NOTIFICATION, fhir_version=FhirVersion.R4)
    assert [e.address for e in r4] == ["https://fhir.oost.test/r4", "https://cardio.oost.test/fhir"]


def test_not_found_names_ura_and_payload_type(net: Network, store: SqliteDirectoryStore) -> None:
    sync(store, net).run()
    cache = DirectoryCache(store)
    with pytest.raises(EndpointNotFound) as info:
        cache.resolve("44444444", pt.TWIIN_TA_NOTIFICATION)
    assert info.value.ura == "44444444"
    assert "Twiin-TA-notification" in info.value.message
    with pytest.raises(EndpointNotFound):
        cache.resolve(fx.URA_OOST, pt.ANY)  # only the DICOM endpoint carries it: not FHIR REST
    with pytest.raises(EndpointNotFound):
        cache.resolve(fx.URA_LINDE, pt.EOVERDRACHT_SERVER)


def test_spoofing_provider_is_rejected_and_reported(net: Network, store: SqliteDirectoryStore) -> None:
    report = sync(store, net).run()
    cache = DirectoryCache(store)
    addresses = [e.address for e in cache.resolve(fx.URA_OOST, pt.TWIIN_TA_NOTIFICATION)]
    assert "https://evil.test/fhir" not in addresses
    [own] = cache.resolve(fx.URA_SPOOF, pt.TWIIN_TA_NOTIFICATION)
    assert own.address == "https://own.spoof.test/fhir"
    reasons = {(r.resource_type, r.id): r.reason for r in report.rejected}
    assert "claims URA 22222222" in reasons[("Organization", "fake-oost")]
    assert "partOf" in reasons[("Organization", "orphan")]
    assert "does not link" in reasons[("HealthcareService", "stray")]
    assert "does not link" in reasons[("Endpoint", "dangling")]
    assert "does not link" in reasons[("Endpoint", "evil")]
    spoof = next(s for s in report.sources if s.ura == fx.URA_SPOOF)
    assert spoof.counts["Organization"].rejected == 2
    assert len(report.rejected) == 5


def test_incremental_sync_uses_history_and_applies_updates_and_deletes(
    net: Network, store: SqliteDirectoryStore
) -> None:
    job = sync(store, net)
    first = job.run()
    oost = net.directories[2]
    assert first.next_since[f"provider {fx.OOST} (URA {fx.URA_OOST})"] == "2025-01-01T00:00:10.000000+00:00"
    oost.put(fx.endpoint("cardio-notify", "https://cardio2.oost.test/fhir", pt.TWIIN_TA_NOTIFICATION))
    oost.delete("HealthcareService", "uro")
    oost.requests.clear()
    second = job.run()
    assert all(s.mode is SyncMode.HISTORY for s in second.sources)
    assert all("/_history?_since=" in u for u in oost.requests)
    report = next(s for s in second.sources if s.ura == fx.URA_OOST)
    assert report.counts["Endpoint"].updated == 1
    assert report.counts["HealthcareService"].deleted == 1
    cache = DirectoryCache(store)
    assert "https://cardio2.oost.test/fhir" in [
        e.address for e in cache.resolve(fx.URA_OOST, pt.TWIIN_TA_NOTIFICATION)
    ]
    with pytest.raises(EndpointNotFound):
        cache.resolve(fx.URA_OOST, pt.BGZ_SERVER)
    third = job.run()  # nothing changed: nothing applied
    assert third.created == third.updated == third.deleted == 0


def test_history_dedupes_to_the_newest_version(store: SqliteDirectoryStore) -> None:
    qd = FakeDirectory("https://qd.test/fhir")
    qd.put(
        fx.endpoint("e1", "https://v1.test/fhir", pt.TWIIN_TA_NOTIFICATION),
        fx.organization("o1", "Org", ura="12345678", endpoints=("e1",)),
    )
    job = DirectorySync(store, query_directories=[qd.base], fetcher=qd)
    job.run()
    for n in (2, 3, 4):
        qd.put(fx.endpoint("e1", f"https://v{n}.test/fhir", pt.TWIIN_TA_NOTIFICATION))
    report = job.run()
    assert report.counts()["Endpoint"].received == 3
    assert report.counts()["Endpoint"].updated == 1
    [found] = DirectoryCache(store).resolve("12345678", pt.TWIIN_TA_NOTIFICATION)
    assert found.address == "https://v4.test/fhir"


def test_history_unsupported_falls_back_to_last_updated(store: SqliteDirectoryStore) -> None:
    qd = FakeDirectory("https://qd.test/fhir", history=False)
    qd.put(
        fx.endpoint("e1", "https://a.test/fhir", pt.TWIIN_TA_NOTIFICATION),
        fx.endpoint("e2", "https://b.test/fhir", pt.TWIIN_TA_NOTIFICATION),
        fx.organization("o1", "Org", ura="12345678", endpoints=("e1", "e2")),
    )
    clock = Clock()
    job = DirectorySync(store, query_directories=[qd.base], fetcher=qd, clock=clock)
    job.run()
    qd.put(fx.endpoint("e1", "https://a2.test/fhir", pt.TWIIN_TA_NOTIFICATION))
    qd.delete("Endpoint", "e2")
    report = job.run()
    [source] = report.sources
    assert source.mode is SyncMode.LAST_UPDATED
    assert report.history_fallback
    assert "_lastUpdated" in source.notes[0]
    assert "404" in source.notes[0]
    assert report.counts()["Endpoint"].updated == 1
    cache = DirectoryCache(store)
    assert [e.address for e in cache.resolve("12345678", pt.TWIIN_TA_NOTIFICATION)] == [
        "https://a2.test/fhir",
        "https://b.test/fhir",  # the delete is invisible to _lastUpdated searches ...
    ]
    qd.requests.clear()
    assert job.run().sources[0].mode is SyncMode.LAST_UPDATED
    assert not any("_history" in u for u in qd.requests)  # remembered: no more _history probes
    clock.now += dt.timedelta(hours=25)
    reload = job.run()  # ... until the periodic full reload
    assert reload.sources[0].mode is SyncMode.FULL
    assert reload.counts()["Endpoint"].deleted == 1
    assert [e.address for e in cache.resolve("12345678", pt.TWIIN_TA_NOTIFICATION)] == [
        "https://a2.test/fhir"
    ]


def test_next_since_falls_back_to_local_clock_minus_margin(store: SqliteDirectoryStore) -> None:
    qd = FakeDirectory("https://qd.test/fhir")
    qd.put(fx.organization("o1", "Org", ura="12345678"))

    class NoMeta:
        def get(self, url: str) -> dict[str, object]:
            bundle = dict(qd.get(url))
            bundle.pop("meta")
            return bundle

    clock = Clock()
    job = DirectorySync(store, query_directories=[qd.base], fetcher=NoMeta(), clock=clock)
    report = job.run()
    assert report.sources[0].next_since == "2025-06-01T11:59:58.000000+00:00"


def test_unregistered_directory_is_removed(net: Network, store: SqliteDirectoryStore) -> None:
    job = sync(store, net)
    job.run()
    lrza = net.directories[0]
    lrza.put(
        fx.organization("lrza-o1", "Huisartsenpraktijk De Linde", ura=fx.URA_LINDE, lrza=True, type_code="Z3")
    )
    lrza.delete("Endpoint", "lrza-e1")
    report = job.run()
    removed = [s for s in report.sources if s.mode is SyncMode.REMOVED]
    assert len(removed) == 1
    assert removed[0].ura == fx.URA_LINDE
    assert removed[0].counts["Endpoint"].deleted == 2
    assert fx.URA_LINDE not in {s.source.ura for s in store.sources()}
    with pytest.raises(EndpointNotFound):
        DirectoryCache(store).resolve(fx.URA_LINDE, pt.TWIIN_TA_NOTIFICATION)


def test_unsafe_directory_address_is_not_contacted(store: SqliteDirectoryStore) -> None:
    lrza = FakeDirectory(fx.LRZA)
    lrza.put(
        fx.endpoint("e", "http://plain.test/fhir", pt.ADMIN_DIRECTORY),
        fx.organization("o", "Plain", ura="55555555", endpoints=("e",), lrza=True),
    )
    net = Network(lrza)
    report = DirectorySync(store, root=fx.LRZA, fetcher=net).run()
    assert [r for r in report.rejected if "refused" in r.reason]
    assert all(u.startswith(fx.LRZA) for u in net.requests())
    assert not [s for s in store.sources() if s.source.kind is SourceKind.PROVIDER]


def test_failing_directory_is_reported_and_others_continue(net: Network, store: SqliteDirectoryStore) -> None:
    net.directories[1].base = "https://moved.test/fhir"  # Linde's directory no longer answers
    report = sync(store, net).run()
    assert not report.ok
    [failed] = [s for s in report.sources if s.error]
    assert failed.ura == fx.URA_LINDE
    assert failed.error == "no such directory"
    assert DirectoryCache(store).resolve(fx.URA_OOST, pt.BGZ_SERVER)


def test_progress_callback_sees_pages(net: Network, store: SqliteDirectoryStore) -> None:
    seen: list[SyncProgress] = []
    sync(store, net, progress=seen.append, options=SyncOptions(page_size=1)).run()
    fetches = [p for p in seen if p.phase == "fetch"]
    assert len(fetches) >= 28
    assert [p.phase for p in seen].count("done") == 4
    oost = [p for p in fetches if "oost" in p.source]
    assert [p.pages for p in oost] == sorted(p.pages for p in oost)


def test_paging_follows_next_links(store: SqliteDirectoryStore) -> None:
    qd = FakeDirectory("https://qd.test/fhir")
    for i in range(25):
        qd.put(fx.endpoint(f"e{i}", f"https://h{i:02}.test/fhir", pt.TWIIN_TA_NOTIFICATION))
    qd.put(fx.organization("o1", "Org", ura="12345678", endpoints=tuple(f"e{i}" for i in range(25))))
    report = DirectorySync(
        store, query_directories=[qd.base], fetcher=qd, options=SyncOptions(page_size=10)
    ).run()
    assert report.sources[0].pages == 3 + 1 + 5  # 3 Endpoint pages, 1 Organization, 5 empty types
    assert len(DirectoryCache(store).resolve("12345678", pt.TWIIN_TA_NOTIFICATION)) == 25
