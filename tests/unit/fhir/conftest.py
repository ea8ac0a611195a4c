"""Facade fixtures: the same test drives FhirClient and AsyncFhirClient over httpx.MockTransport."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.unit.fhir.runners import AsyncRunner, Runner, SyncRunner


@pytest.fixture(params=["sync", "async"])
def make_runner(request: pytest.FixtureRequest) -> Callable[..., Runner]:
    """Build a sync or async runner around a MockTransport handler."""
    return SyncRunner if request.param == "sync" else AsyncRunner
