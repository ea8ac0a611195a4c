"""Session-wide fixtures shared by every test area."""

from __future__ import annotations

import os
import threading

import pytest
from hypothesis import settings

from twiin.testing.pki import TestPKI

# one sandbox network per session, shared by the sandbox, CLI and example tests (the way vendors
# enable the fixture in their own conftest)
pytest_plugins = ["twiin.testing.pytest_plugin"]

# CI runs the property tests with a fixed seed so a run is reproducible; locally they explore.
settings.register_profile("ci", derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a server, sandbox or client thread outlives the suite."""
    leftovers = sorted(
        thread.name
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and thread.is_alive() and not thread.daemon
    )
    if leftovers:
        session.config.get_terminal_writer().line()
        session.config.get_terminal_writer().line(
            f"threads left running after the suite: {leftovers}", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
