"""Opt-in: the NL Generic Functions IG addressing examples (read from ../shared/vectors, never copied).

Skipped when the vectors are absent. Known defects of the source (see MANIFEST.json) are
expected here: HealthcareService ``ad3-hs2`` points at an organisation id of another build.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from twiin.addressing import DirectoryCache, DirectorySync, SqliteDirectoryStore
from twiin.addressing import payload_types as pt
from twiin.errors import EndpointNotFound
from twiin.fhir_version import FhirVersion

from .fakes import FakeDirectory, Network

VECTORS = Path(__file__).resolve().parents[4] / "shared" / "vectors" / "mcsd"
pytestmark = pytest.mark.skipif(not VECTORS.is_dir(), reason="shared mCSD vectors not present")

LRZA = "https://lrza.example.test/fhir"


def directory(base: str, name: str) -> FakeDirectory:
    [path] = (VECTORS / name).glob("Bundle-*searchset.json")
    bundle: dict[str, Any] = json.loads(path.read_text())
    fake = FakeDirectory(base)
    fake.put(*(entry["resource"] for entry in bundle["entry"]))
    return fake


def test_lrza_root_with_the_three_provider_directories() -> None:
    net = Network(
        directory(LRZA, "lrza"),
        directory("https://cp1-test.example.org/fhirr4", "org1"),
        directory("https://cp2-test.example.org/fhirr4", "org2"),
        directory("https://cp3-test.example.org/fhirr4", "org3"),
    )
    with SqliteDirectoryStore.in_memory() as store:
        report = DirectorySync(store, root=LRZA, fetcher=net).run()
        assert report.ok, report.errors
        assert sorted(s.ura or "" for s in report.sources) == ["", "11111111", "22222222", "33333333"]
        assert report.counts()["HealthcareService"].created == 8
        cache = DirectoryCache(store)
        [hospital] = cache.resolve("22222222", pt.EOVERDRACHT_SERVER)
        assert hospital.address == "https://cp2-test.example.org/fhirstu3"
        assert hospital.fhir_version is FhirVersion.STU3
        assert hospital.organization.name == "example Hospital"
        [care] = cache.resolve("33333333", pt.EOVERDRACHT_SERVER)
        assert care.address == "https://cp3-test.example.org/fhirstu3"
        [admin] = cache.resolve("11111111", pt.ADMIN_DIRECTORY)  # listed by LRZa and the provider: once
        assert admin.address == "https://cp1-test.example.org/fhirr4"
        with pytest.raises(EndpointNotFound):
            cache.resolve("22222222", pt.ANY)  # only the DICOM endpoint carries it


def test_consolidated_query_directory() -> None:
    qd = directory("https://qd.example.test/fhir", "query-directory")
    with SqliteDirectoryStore.in_memory() as store:
        report = DirectorySync(store, query_directories=[qd.base], fetcher=qd).run()
        assert report.ok, report.errors
        assert report.received == 32
        cache = DirectoryCache(store)
        assert [e.address for e in cache.resolve("22222222", pt.EOVERDRACHT_SERVER)] == [
            "https://cp2-test.example.org/fhirstu3"
        ]
        assert [e.address for e in cache.resolve("33333333", pt.ADMIN_DIRECTORY)] == [
            "https://cp3-test.example.org/fhirr4"
        ]
        assert {e.organization.name for e in cache.resolve("11111111", pt.ADMIN_DIRECTORY)} == {
            "example General Practice"
        }
