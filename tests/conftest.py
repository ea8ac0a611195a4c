"""Session-wide fixtures shared by every test area."""

from __future__ import annotations

import pytest

from twiin.testing.pki import TestPKI


@pytest.fixture(scope="session")
def pki() -> TestPKI:
    """A UZI-shaped test PKI (root + server CA) for the whole session."""
    return TestPKI()


@pytest.fixture(scope="session")
def rogue_pki() -> TestPKI:
    """An unrelated PKI whose certificates nobody trusts."""
    return TestPKI.rogue()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
