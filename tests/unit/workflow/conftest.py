"""Shared values for the workflow unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from twiin.exchange.workflow import AssignedId
from twiin.identifiers import Ura

PLACER = Ura("12345678")
OWNER_A = AssignedId("https://fulfiller-a.example.org/healthcareservice", "wondzorg-thuis", Ura("87654321"))
OWNER_B = AssignedId(
    "https://fulfiller-b.example.org/healthcareservice", "wijkverpleging-noord", Ura("11223344")
)
LOCATION_A = AssignedId("https://fulfiller-a.example.org/location", "vestiging-centrum", Ura("87654321"))
WORK: dict[str, Any] = {"coding": [{"system": "http://snomed.info/sct", "code": "308292007"}]}
TASK_SYSTEM = "https://placer.example.org/task"
AT = datetime(2026, 10, 9, 7, 0, tzinfo=UTC)


@pytest.fixture
def at() -> datetime:
    return AT
