"""Certificates for the auth unit tests (session-scoped: RSA key generation is slow)."""

from __future__ import annotations

import pytest

from twiin.auth import AssertionSigner
from twiin.credentials import Credentials
from twiin.testing.pki import IssuedCertificate, TestPKI

CLIENT_URA = "12345678"
OTHER_URA = "87654321"
TOKEN_URL = "https://as.example.test/oauth/token"


@pytest.fixture(scope="session")
def client_cert(pki: TestPKI) -> IssuedCertificate:
    return pki.issue_server(ura=CLIENT_URA, uzi_number="900000001", agb="01234567")


@pytest.fixture(scope="session")
def other_cert(pki: TestPKI) -> IssuedCertificate:
    return pki.issue_server(ura=OTHER_URA, uzi_number="900000002")


@pytest.fixture(scope="session")
def rogue_cert(rogue_pki: TestPKI) -> IssuedCertificate:
    return rogue_pki.issue_server(ura=CLIENT_URA, uzi_number="900000001")


@pytest.fixture(scope="session")
def client_credentials(client_cert: IssuedCertificate) -> Credentials:
    return client_cert.credentials()


@pytest.fixture(scope="session")
def signer(client_credentials: Credentials) -> AssertionSigner:
    return AssertionSigner(client_credentials)


ISSUER = "https://sender.example.test"


@pytest.fixture(scope="session")
def server_cert(pki: TestPKI) -> IssuedCertificate:
    """The token endpoint's own certificate (URA 11111111), also its token-signing key here."""
    return pki.issue_server(ura="11111111", uzi_number="900000011", key_type="ec256")
