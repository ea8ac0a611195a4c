"""Clients on the Medplum peer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from twiin.fhir import FhirClient, FhirVersion


@pytest.fixture
def fhir(medplum_base_url: str) -> Iterator[FhirClient]:
    with FhirClient(medplum_base_url, FhirVersion.R4) as client:
        yield client


@pytest.fixture
def raw_fhir(medplum_base_url: str) -> Iterator[FhirClient]:
    with FhirClient(medplum_base_url, FhirVersion.R4, raw=True) as client:
        yield client


@pytest.fixture
def tag() -> str:
    """A unique value for identifiers in one test (the peer is shared by the session)."""
    return uuid.uuid4().hex[:16]
