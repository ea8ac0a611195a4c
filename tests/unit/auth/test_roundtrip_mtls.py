"""Our token flows against our own TokenEndpoint and a resource check, over real loopback mTLS."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from twiin._http import client_ssl_context, create_async_client, create_client, server_ssl_context
from twiin.auth import AssertionSigner, ClientCredentialsAuth, JwtBearerAuth, TlsClientAuth
from twiin.auth.server import (
    AssertionPolicy,
    MemoryAuthorizationBaseStore,
    TokenEndpoint,
    TokenIssuer,
    verify_access_token,
)
from twiin.errors import InvalidTokenError, TokenRequestError
from twiin.identifiers import Bsn, Ura
from twiin.serving import Answer, IncomingRequest
from twiin.testing.pki import IssuedCertificate, TestPKI
from twiin.testing.server import RunningServer, serve

from .conftest import CLIENT_URA

PATIENT = Bsn("999999151")
pytestmark = pytest.mark.anyio


class Sender:
    """The sending GtK: a token endpoint and a FHIR endpoint that checks tokens per query."""

    def __init__(self, pki: TestPKI, cert: IssuedCertificate) -> None:
        self.store = MemoryAuthorizationBaseStore()
        self.pki = pki
        self.cert = cert
        self.endpoint: TokenEndpoint | None = None

    def configure(self, base_url: str) -> None:
        policy = AssertionPolicy(
            audience=f"{base_url}/token",
            trust=self.pki.trust_anchors,
            check_revocation=False,
            intermediates=(self.pki.intermediate.certificate,),
        )
        issuer = TokenIssuer(AssertionSigner(self.cert.credentials()), issuer=base_url)
        self.endpoint = TokenEndpoint(issuer=issuer, policy=policy, store=self.store)

    def __call__(self, request: IncomingRequest) -> Answer:
        assert self.endpoint is not None
        if request.path == "/token":
            return self.endpoint.handle(request)
        token = request.bearer_token()
        if token is None:
            return Answer(401, {"www-authenticate": "Bearer"})
        try:
            claims = verify_access_token(
                token,
                peer_certificate=request.peer_certificate,
                issuer=self.endpoint.issuer,
                store=self.store,
            )
        except InvalidTokenError:
            return Answer(401, {"www-authenticate": 'Bearer error="invalid_token"'})
        query = request.path.removeprefix("/fhir/") + (
            "?" + request.url.split("?", 1)[1] if "?" in request.url else ""
        )
        if claims.queries and not claims.allows(query):
            return Answer.outcome(403, "forbidden", "query not covered")
        return Answer.json(
            200, {"client": claims.client_ura.value, "patient_known": claims.patient is not None}
        )


@pytest.fixture(scope="module")
def sender(pki: TestPKI, server_cert: IssuedCertificate) -> Iterator[tuple[Sender, RunningServer]]:
    app = Sender(pki, server_cert)
    ctx = server_ssl_context(server_cert.credentials(), pki.trust_anchors, require_client_certificate=True)
    with serve(app, ctx) as running:
        app.configure(running.base_url)
        yield app, running


def _client(pki: TestPKI, cert: IssuedCertificate, auth: httpx.Auth) -> httpx.Client:
    return create_client(ssl_context=client_ssl_context(cert.credentials(), pki.trust_anchors), auth=auth)


def test_client_credentials_round_trip(
    sender: tuple[Sender, RunningServer], pki: TestPKI, client_cert: IssuedCertificate
) -> None:
    _, running = sender
    auth = ClientCredentialsAuth(running.url("token"), client_cert.credentials(), client_id=CLIENT_URA)
    with _client(pki, client_cert, auth) as client:
        for _ in range(3):
            response = client.get(running.url("fhir/Task"))
            assert response.status_code == 200, response.text
            assert response.json()["client"] == CLIENT_URA
    assert auth.token_requests == 1


def test_tls_client_auth_round_trip(
    sender: tuple[Sender, RunningServer], pki: TestPKI, client_cert: IssuedCertificate
) -> None:
    _, running = sender
    auth = TlsClientAuth(running.url("token"), client_id=CLIENT_URA)
    with _client(pki, client_cert, auth) as client:
        assert client.get(running.url("fhir/Task")).status_code == 200


def test_token_bound_to_other_certificate_refused(
    sender: tuple[Sender, RunningServer],
    pki: TestPKI,
    client_cert: IssuedCertificate,
    other_cert: IssuedCertificate,
) -> None:
    _, running = sender
    auth = TlsClientAuth(running.url("token"), client_id=CLIENT_URA)
    with _client(pki, client_cert, auth) as client:
        client.get(running.url("fhir/Task"))
    token = auth.cached_token()
    assert token is not None
    with create_client(ssl_context=client_ssl_context(other_cert.credentials(), pki.trust_anchors)) as thief:
        stolen = thief.get(
            running.url("fhir/Task"), headers={"Authorization": f"Bearer {token.access_token}"}
        )
    assert stolen.status_code == 401


async def test_notified_pull_round_trip_async(
    sender: tuple[Sender, RunningServer], pki: TestPKI, client_cert: IssuedCertificate
) -> None:
    app, running = sender
    base = app.store.issue(PATIENT, Ura(CLIENT_URA), ("Patient", "Condition?category=problem-list-item"))
    auth = JwtBearerAuth(
        running.url("token"), client_cert.credentials(), client_id=CLIENT_URA, authorization_base=base.value
    )
    ctx = client_ssl_context(client_cert.credentials(), pki.trust_anchors)
    async with create_async_client(ssl_context=ctx, auth=auth) as client:
        ok = await client.get(running.url("fhir/Condition"), params={"category": "problem-list-item"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["patient_known"] is True
        assert (await client.get(running.url("fhir/Observation"))).status_code == 403
        app.store.revoke(base.value)  # Notified Pull cancellation
        with pytest.raises(TokenRequestError) as info:
            await client.get(running.url("fhir/Patient"))  # 401 -> one re-fetch -> invalid_grant
    assert info.value.error == "invalid_grant"
    assert info.value.status == 400
    assert auth.token_requests == 2
