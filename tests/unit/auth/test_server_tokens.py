"""TokenIssuer and verify_access_token."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from twiin.auth import AssertionSigner
from twiin.auth.server import (
    MemoryAuthorizationBaseStore,
    TokenIssuer,
    verify_access_token,
)
from twiin.errors import InvalidTokenError
from twiin.identifiers import Bsn, Ura
from twiin.testing.pki import IssuedCertificate

from .conftest import CLIENT_URA, ISSUER

PATIENT = Bsn("999999151")
QUERIES = ("Patient", "Condition?clinical-status=active&category=problem-list-item")


@pytest.fixture(scope="module", params=["jwt", "opaque"])
def issuer(request: pytest.FixtureRequest, server_cert: IssuedCertificate) -> TokenIssuer:
    return TokenIssuer(
        AssertionSigner(server_cert.credentials()),
        issuer=ISSUER,
        audience=f"{ISSUER}/fhir",
        token_format=request.param,
    )


def _issue(issuer: TokenIssuer, cert: IssuedCertificate, **kw: object) -> str:
    token, lifetime = issuer.issue(
        client_id=CLIENT_URA,
        client_ura=Ura(CLIENT_URA),
        scope=("system/Task.read",),
        certificate=cert.certificate,
        **kw,  # type: ignore[arg-type]
    )
    assert lifetime == 300
    return token


def test_bound_token_verifies(issuer: TokenIssuer, client_cert: IssuedCertificate) -> None:
    claims = verify_access_token(
        _issue(issuer, client_cert), peer_certificate=client_cert.certificate, issuer=issuer
    )
    assert claims.client_ura == Ura(CLIENT_URA)
    assert claims.scope == ("system/Task.read",)
    assert claims.patient is None
    assert claims.certificate_thumbprint == client_cert.credentials().thumbprint


def test_token_bound_to_another_certificate(
    issuer: TokenIssuer, client_cert: IssuedCertificate, other_cert: IssuedCertificate
) -> None:
    token = _issue(issuer, client_cert)
    with pytest.raises(InvalidTokenError, match="another certificate"):
        verify_access_token(token, peer_certificate=other_cert.certificate, issuer=issuer)
    with pytest.raises(InvalidTokenError, match="without a TLS client certificate"):
        verify_access_token(token, peer_certificate=None, issuer=issuer)


def test_unbound_token_refused_by_default(issuer: TokenIssuer, client_cert: IssuedCertificate) -> None:
    token, _ = issuer.issue(client_id=CLIENT_URA, client_ura=Ura(CLIENT_URA))
    with pytest.raises(InvalidTokenError, match="not bound"):
        verify_access_token(token, peer_certificate=client_cert.certificate, issuer=issuer)
    verify_access_token(token, peer_certificate=None, issuer=issuer, require_binding=False)


def test_expired_token(issuer: TokenIssuer, client_cert: IssuedCertificate) -> None:
    token = _issue(issuer, client_cert, now=time.time() - 400)
    with pytest.raises(InvalidTokenError, match="expired"):
        verify_access_token(token, peer_certificate=client_cert.certificate, issuer=issuer)


def test_revoked_token(issuer: TokenIssuer, client_cert: IssuedCertificate) -> None:
    token = _issue(issuer, client_cert)
    issuer.revoke(token)
    with pytest.raises(InvalidTokenError):
        verify_access_token(token, peer_certificate=client_cert.certificate, issuer=issuer)
    assert issuer.introspect(token) == {"active": False}


def test_introspection(issuer: TokenIssuer, client_cert: IssuedCertificate) -> None:
    answer = issuer.introspect(_issue(issuer, client_cert))
    assert answer["active"] is True
    assert answer["client_ura"] == CLIENT_URA
    assert issuer.introspect("nonsense") == {"active": False}


def test_token_from_other_issuer(
    client_cert: IssuedCertificate, server_cert: IssuedCertificate, other_cert: IssuedCertificate
) -> None:
    ours = TokenIssuer(AssertionSigner(server_cert.credentials()), issuer=ISSUER)
    theirs = TokenIssuer(AssertionSigner(other_cert.credentials()), issuer=ISSUER)
    token = _issue(theirs, client_cert)
    with pytest.raises(InvalidTokenError):
        verify_access_token(token, peer_certificate=client_cert.certificate, issuer=ours)


def test_tampered_jwt(server_cert: IssuedCertificate, client_cert: IssuedCertificate) -> None:
    issuer = TokenIssuer(AssertionSigner(server_cert.credentials()), issuer=ISSUER)
    head, body, sig = _issue(issuer, client_cert).split(".")
    with pytest.raises(InvalidTokenError, match="refused"):
        verify_access_token(f"{head}.{body}x.{sig}", peer_certificate=client_cert.certificate, issuer=issuer)
    # a client assertion (typ JWT) signed by the same key is not an access token
    plain = issuer.signer.sign({"iss": ISSUER, "exp": time.time() + 60, "iat": time.time()})
    with pytest.raises(InvalidTokenError, match="at\\+jwt"):
        verify_access_token(plain, peer_certificate=client_cert.certificate, issuer=issuer)


def test_authorization_base_token(issuer: TokenIssuer, client_cert: IssuedCertificate) -> None:
    store = MemoryAuthorizationBaseStore()
    base = store.issue(PATIENT, Ura(CLIENT_URA), QUERIES)
    token = _issue(issuer, client_cert, authorization_base=base)
    assert PATIENT.value not in token
    assert base.value not in token
    with pytest.raises(InvalidTokenError, match="no store"):
        verify_access_token(token, peer_certificate=client_cert.certificate, issuer=issuer)
    claims = verify_access_token(token, peer_certificate=client_cert.certificate, issuer=issuer, store=store)
    assert claims.patient == PATIENT
    assert claims.receiver == Ura(CLIENT_URA)
    assert claims.queries == QUERIES
    assert claims.allows("/Patient")
    assert claims.allows("Condition?category=problem-list-item&clinical-status=active")
    assert claims.allows(
        "https://sender.example.test/fhir/Condition?clinical-status=active&category=problem-list-item"
    )
    assert not claims.allows("Condition")
    assert not claims.allows("Observation")
    assert PATIENT.value not in repr(claims)
    assert "9151" not in repr(claims)
    store.revoke(base.value)
    with pytest.raises(InvalidTokenError, match="revoked"):
        verify_access_token(token, peer_certificate=client_cert.certificate, issuer=issuer, store=store)


def test_authorization_base_expired_or_other_receiver(
    issuer: TokenIssuer, client_cert: IssuedCertificate
) -> None:
    store = MemoryAuthorizationBaseStore()
    now = datetime.now(UTC)
    short = store.issue(PATIENT, Ura(CLIENT_URA), QUERIES, expires_at=now + timedelta(seconds=60), now=now)
    token = _issue(issuer, client_cert, authorization_base=short, now=now.timestamp())
    with pytest.raises(InvalidTokenError, match="expired"):
        verify_access_token(
            token,
            peer_certificate=client_cert.certificate,
            issuer=issuer,
            store=store,
            now=now.timestamp() + 61,
        )
    other = store.issue(PATIENT, Ura("87654321"), QUERIES)
    token = _issue(issuer, client_cert, authorization_base=other)
    with pytest.raises(InvalidTokenError, match="another organisation"):
        verify_access_token(token, peer_certificate=client_cert.certificate, issuer=issuer, store=store)


@pytest.mark.parametrize("garbage", ["", "a.b.c", "x" * 200_000])
def test_garbage_tokens(issuer: TokenIssuer, client_cert: IssuedCertificate, garbage: str) -> None:
    with pytest.raises(InvalidTokenError):
        verify_access_token(garbage, peer_certificate=client_cert.certificate, issuer=issuer)
