"""The examples run against the session sandbox vendors get from ``twiin.testing.pytest_plugin``."""

from twiin.testing.pytest_plugin import sandbox  # noqa: F401 - the fixture the examples run against
