"""pytest fixtures for integration tests against the twiin sandbox.

Enable in a ``conftest.py``::

    pytest_plugins = ["twiin.testing.pytest_plugin"]

``sandbox`` is one running :class:`~twiin.sandbox.Sandbox` per test session, written into a
pytest-managed temporary directory and stopped when the session ends. Tests share it: the
built-in GtKs' ``accepted`` list and audit sinks grow over the session, so assert on what a
test itself added (e.g. ``sandbox.accepted[-1]``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from twiin.sandbox import Sandbox

__all__ = ["sandbox"]


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A running sandbox network for the whole session (layout in a temporary directory)."""
    with Sandbox(tmp_path_factory.mktemp("twiin-sandbox")) as running:
        yield running
