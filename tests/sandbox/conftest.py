"""The sandbox tests use the session fixture vendors get from ``twiin.testing.pytest_plugin``."""

from __future__ import annotations

import pytest

from twiin.credentials import Credentials, TrustAnchors
from twiin.sandbox import Sandbox


def _credentials(box: Sandbox, participant: str) -> Credentials:
    folder = box.dir / participant
    return Credentials.from_pem_files(folder / "cert.pem", folder / "key.pem")


@pytest.fixture(scope="session")
def trust(sandbox: Sandbox) -> TrustAnchors:
    """The trust anchors the sandbox wrote (``ca.pem``)."""
    return TrustAnchors.from_pem_file(sandbox.dir / "ca.pem")


@pytest.fixture(scope="session")
def hospital_creds(sandbox: Sandbox) -> Credentials:
    """The hospital's credentials, read back from the files the sandbox wrote."""
    return _credentials(sandbox, "hospital")


@pytest.fixture(scope="session")
def gp_creds(sandbox: Sandbox) -> Credentials:
    """The GP's credentials, read back from the files the sandbox wrote."""
    return _credentials(sandbox, "gp")
