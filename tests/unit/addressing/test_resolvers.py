"""Resolvers: static address book, live Query Directory, async twins, unsafe addresses."""

from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path

import pytest

from twiin.addressing import (
    AddressResolver,
    AsyncAddressResolver,
    AsyncDirectoryCache,
    AsyncDirectorySync,
    AsyncLiveDirectory,
    AsyncStaticAddressBook,
    DirectoryCache,
    DirectorySync,
    EndpointPolicy,
    LiveDirectory,
    SqliteDirectoryStore,
    StaticAddressBook,
    UnitKind,
)
from twiin.addressing import payload_types as pt
from twiin.addressing.transport import AsyncHttpBundleFetcher, HttpBundleFetcher
from twiin.errors import ConfigurationError, EndpointNotFound, UnsafeEndpoint
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura

from . import mcsd_fixtures as fx
from .fakes import AsyncNetwork, FakeDirectory

BOOK_TOML = """
[[organization]]
ura = "87654321"
name = "Ziekenhuis Oost"

[[organization.endpoint]]
address = "https://np.zho.test/fhir"
payload_types = ["Twiin-TA-notification"]
fhir_version = "STU3"

[[organization.endpoint]]
address = "https://bgz.zho.test/fhir"
payload_types = ["http://nictiz.nl/fhir/CapabilityStatement/bgz2017-servercapabilities", "Twiin-TA-notification"]
name = "BgZ"

[[organization]]
ura = "1234"
name = "Praktijk"
endpoint = [{ address = "https://p.test/fhir", payload_types = ["eOverdracht-notification"] }]
"""


def test_static_address_book_from_toml_and_json(tmp_path: Path) -> None:
    path = tmp_path / "book.toml"
    path.write_text(BOOK_TOML)
    book = StaticAddressBook.from_file(path)
    assert isinstance(book, AddressResolver)
    found = book.resolve(Ura("87654321"), pt.TWIIN_TA_NOTIFICATION)
    assert [e.address for e in found] == ["https://bgz.zho.test/fhir", "https://np.zho.test/fhir"]  # ordered
    assert found[1].fhir_version is FhirVersion.STU3
    assert [e.address for e in book.resolve("87654321", pt.BGZ_SERVER)] == ["https://bgz.zho.test/fhir"]
    assert book.resolve("00001234", "eOverdracht-notification")[0].organization.name == "Praktijk"
    stu3 = book.resolve("87654321", pt.TWIIN_TA_NOTIFICATION, fhir_version=FhirVersion.STU3)
    assert [e.address for e in stu3] == ["https://np.zho.test/fhir", "https://bgz.zho.test/fhir"]
    with pytest.raises(EndpointNotFound, match="87654321"):
        book.resolve("87654321", pt.EOVERDRACHT_NOTIFICATION)
    json_path = tmp_path / "book.json"
    json_path.write_text(
        json.dumps(
            {
                "organization": [
                    {"ura": "5", "endpoint": [{"address": "https://x.test", "payload_types": ["Nuts-OAuth"]}]}
                ]
            }
        )
    )
    assert StaticAddressBook.from_file(json_path).uras == ["00000005"]


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({}, "organization"),
        ({"organization": [{"ura": "abc", "endpoint": []}]}, "organization[0].ura"),
        (
            {
                "organization": [
                    {"ura": "1", "endpoint": [{"address": "http://plain.test", "payload_types": ["x"]}]}
                ]
            },
            "address",
        ),
        (
            {
                "organization": [
                    {"ura": "1", "endpoint": [{"address": "https://a.test", "payload_types": []}]}
                ]
            },
            "payload_types",
        ),
        (
            {
                "organization": [
                    {
                        "ura": "1",
                        "endpoint": [
                            {"address": "https://a.test", "payload_types": ["x"], "fhir_version": "R5"}
                        ],
                    }
                ]
            },
            "fhir_version",
        ),
        ({"organization": [{"ura": "1"}]}, "endpoint"),
    ],
)
def test_static_address_book_errors(data: dict[str, object], where: str) -> None:
    with pytest.raises(ConfigurationError, match=where.replace("[", r"\[").replace("]", r"\]")):
        StaticAddressBook(data)


def test_static_address_book_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "book.toml"
    bad.write_text("[[organization]\n")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        StaticAddressBook.from_file(bad)
    with pytest.raises(ConfigurationError):
        StaticAddressBook.from_file(tmp_path / "missing.json")


def test_static_book_allows_http_only_with_a_test_policy() -> None:
    data = {
        "organization": [
            {"ura": "1", "endpoint": [{"address": "http://127.0.0.1:9/fhir", "payload_types": ["x"]}]}
        ]
    }
    assert StaticAddressBook(data, policy=EndpointPolicy.for_tests()).resolve("1", "x")


def oost_query_directory() -> FakeDirectory:
    """Oost's content as a consolidated Query Directory (URA-carrying organisation, dept, service)."""
    qd = fx.oost_directory()
    qd.base = "https://qd.test/fhir"
    return qd


def test_live_directory_follows_the_recipe_and_caches() -> None:
    qd = oost_query_directory()
    now = [0.0]
    live = LiveDirectory(qd.base, fetcher=qd, ttl=30, clock=lambda: now[0])
    assert isinstance(live, AddressResolver)
    found = live.resolve(fx.URA_OOST, pt.TWIIN_TA_NOTIFICATION)
    assert [e.address for e in found] == [
        "https://fhir.oost.test/r4",
        "https://fhir.oost.test/stu3",
        "https://cardio.oost.test/fhir",
    ]
    assert found[2].unit is not None
    assert found[2].unit.kind is UnitKind.DEPARTMENT
    [uro] = live.resolve(fx.URA_OOST, pt.BGZ_SERVER)
    assert uro.unit is not None
    assert uro.unit.kind is UnitKind.HEALTHCARE_SERVICE
    paths = [u.split("?")[0].removeprefix(qd.base) for u in qd.requests]
    assert paths == ["/Organization", "/Organization", "/Organization", "/HealthcareService"]
    assert "identifier=http://fhir.nl/fhir/NamingSystem/ura|22222222" in qd.requests[0]
    assert "_include=Organization:endpoint" in qd.requests[0]
    assert "partof.identifier=" in qd.requests[1]
    assert not any("/Endpoint?" in u and "organization" in u for u in qd.requests)  # never the vendor link
    now[0] = 29.0
    live.resolve(fx.URA_OOST, pt.EOVERDRACHT_SERVER)
    assert len(qd.requests) == 4  # cached
    now[0] = 31.0
    live.resolve(fx.URA_OOST, pt.EOVERDRACHT_SERVER)
    assert len(qd.requests) == 8  # expired: asked again
    with pytest.raises(EndpointNotFound):
        live.resolve("99999999", pt.TWIIN_TA_NOTIFICATION)
    assert len(qd.requests) == 9  # an unknown URA costs one query


def test_live_directory_refuses_unsafe_base_url() -> None:
    with pytest.raises(UnsafeEndpoint):
        LiveDirectory("http://qd.test/fhir", fetcher=FakeDirectory("http://qd.test/fhir"))


def test_unsafe_directory_addresses_are_skipped_or_refused(caplog: pytest.LogCaptureFixture) -> None:
    qd = FakeDirectory("https://qd.test/fhir")
    qd.put(
        fx.endpoint("plain", "http://plain.test/fhir?secret=1", pt.TWIIN_TA_NOTIFICATION),
        fx.endpoint("js", "javascript:alert(1)", pt.BGZ_SERVER),
        fx.endpoint("ok", "https://ok.test/fhir", pt.TWIIN_TA_NOTIFICATION),
        fx.organization("o", "Org", ura="12345678", endpoints=("plain", "js", "ok")),
    )
    with SqliteDirectoryStore.in_memory() as store:
        DirectorySync(store, query_directories=[qd.base], fetcher=qd).run()
        cache = DirectoryCache(store)
        with caplog.at_level(logging.DEBUG):
            assert [e.address for e in cache.resolve("12345678", pt.TWIIN_TA_NOTIFICATION)] == [
                "https://ok.test/fhir"
            ]
        assert "secret" not in caplog.text
        with pytest.raises(UnsafeEndpoint, match="every endpoint of URA 12345678"):
            cache.resolve("12345678", pt.BGZ_SERVER)
        relaxed = DirectoryCache(store, policy=EndpointPolicy.for_tests())
        assert len(relaxed.resolve("12345678", pt.TWIIN_TA_NOTIFICATION)) == 2


@pytest.mark.anyio
async def test_async_twins_give_the_same_answers(tmp_path: Path) -> None:
    net = fx.network()
    with SqliteDirectoryStore.in_memory() as store:
        report = await AsyncDirectorySync(store, root=fx.LRZA, fetcher=AsyncNetwork(net)).run()
        assert report.ok
        assert len(report.rejected) == 5
        sync_cache, async_cache = DirectoryCache(store), AsyncDirectoryCache(store)
        assert isinstance(async_cache, AsyncAddressResolver)
        for ura in (fx.URA_LINDE, fx.URA_OOST):
            assert await async_cache.resolve(ura, pt.TWIIN_TA_NOTIFICATION) == sync_cache.resolve(
                ura, pt.TWIIN_TA_NOTIFICATION
            )
    qd = oost_query_directory()
    live = AsyncLiveDirectory(qd.base, fetcher=AsyncNetwork(fx.Network(qd)))
    sync_live = LiveDirectory(qd.base, fetcher=oost_query_directory())
    assert await live.resolve(fx.URA_OOST, pt.BGZ_SERVER) == sync_live.resolve(fx.URA_OOST, pt.BGZ_SERVER)
    path = tmp_path / "b.toml"
    path.write_text(BOOK_TOML)
    book = AsyncStaticAddressBook.from_file(path)
    assert await book.resolve("87654321", pt.BGZ_SERVER) == StaticAddressBook.from_file(path).resolve(
        "87654321", pt.BGZ_SERVER
    )
    assert book.uras == ["00001234", "87654321"]


def _public(cls: type) -> set[str]:
    return {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")}


@pytest.mark.parametrize(
    ("sync_cls", "async_cls"),
    [
        (DirectoryCache, AsyncDirectoryCache),
        (LiveDirectory, AsyncLiveDirectory),
        (StaticAddressBook, AsyncStaticAddressBook),
        (DirectorySync, AsyncDirectorySync),
        (HttpBundleFetcher, AsyncHttpBundleFetcher),
    ],
)
def test_sync_and_async_facades_expose_the_same_methods(sync_cls: type, async_cls: type) -> None:
    assert _public(sync_cls) == _public(async_cls)
    for name in _public(sync_cls):
        sync_attr, async_attr = getattr(sync_cls, name), getattr(async_cls, name)
        if inspect.isfunction(sync_attr) and name not in ("clear", "from_file"):
            assert (
                inspect.signature(sync_attr).parameters.keys()
                == inspect.signature(async_attr).parameters.keys()
            )
