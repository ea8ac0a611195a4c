"""Token flows as httpx.Auth: forms, cache, single-flight, refresh, 401 re-fetch, errors."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx
import pytest

from twiin.auth import (
    ASSERTION_TYPE,
    AssertionSigner,
    ClientCredentialsAuth,
    DPoPSigner,
    JwtBearerAuth,
    TlsClientAuth,
    TokenCache,
    TokenExchangeAuth,
    access_token_hash,
)
from twiin.auth.flows import GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE
from twiin.errors import ConfigurationError, TokenRequestError

from .conftest import TOKEN_URL

API = "https://fhir.example.test/fhir/Task"


def _claims(jwt: str) -> dict[str, Any]:
    body = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))  # type: ignore[no-any-return]


class FakeServer:
    """A token endpoint plus a resource endpoint behind a MockTransport."""

    def __init__(self, *, expires_in: int = 300, delay: float = 0.0) -> None:
        self.token_forms: list[dict[str, str]] = []
        self.token_headers: list[httpx.Headers] = []
        self.api_auth: list[str] = []
        self.expires_in = expires_in
        self.delay = delay
        self.issued = 0
        self.revoked: set[str] = set()
        self.token_answer: httpx.Response | None = None
        self._lock = threading.Lock()

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        with self._lock:
            self.token_forms.append(form)
            self.token_headers.append(request.headers)
            self.issued += 1
            n = self.issued
        if self.token_answer is not None:
            return self.token_answer
        return httpx.Response(
            200, json={"access_token": f"tok-{n}", "token_type": "Bearer", "expires_in": self.expires_in}
        )

    def _api(self, request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization", "")
        self.api_auth.append(auth)
        if auth.removeprefix("Bearer ") in self.revoked:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return httpx.Response(200, json={"ok": True})

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.delay:
            time.sleep(self.delay)
        return self._token(request) if str(request.url) == TOKEN_URL else self._api(request)

    async def ahandler(self, request: httpx.Request) -> httpx.Response:
        if self.delay:
            await anyio.sleep(self.delay)
        return self._token(request) if str(request.url) == TOKEN_URL else self._api(request)

    def client(self, auth: httpx.Auth) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler), auth=auth)

    def aclient(self, auth: httpx.Auth) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.ahandler), auth=auth)


def test_client_credentials_form(signer: AssertionSigner) -> None:
    server = FakeServer()
    auth = ClientCredentialsAuth(
        TOKEN_URL,
        signer,
        client_id="12345678",
        scope="system/Task.read",
        extra_params={"target_audience": "https://nvi.test"},
        assertion_claims={"scope": "system/Task.read"},
        bind_certificate=True,
    )
    with server.client(auth) as client:
        assert client.get(API).status_code == 200
        assert client.get(API).status_code == 200
    assert server.issued == 1
    form = server.token_forms[0]
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "system/Task.read"
    assert form["target_audience"] == "https://nvi.test"
    assert form["client_assertion_type"] == ASSERTION_TYPE
    claims = _claims(form["client_assertion"])
    assert claims["aud"] == TOKEN_URL  # default: the token endpoint
    assert claims["iss"] == claims["sub"] == "12345678"
    assert claims["exp"] - claims["iat"] == 60
    assert claims["cnf"] == {"x5t#S256": signer.thumbprint}
    assert claims["scope"] == "system/Task.read"
    assert server.api_auth == ["Bearer tok-1", "Bearer tok-1"]


def test_assertion_audience_configurable(signer: AssertionSigner) -> None:
    server = FakeServer()
    auth = ClientCredentialsAuth(
        TOKEN_URL, signer, client_id="1", assertion_audience="https://as.example.test"
    )
    with server.client(auth) as client:
        client.get(API)
    assert _claims(server.token_forms[0]["client_assertion"])["aud"] == "https://as.example.test"


def test_refetch_after_expiry_with_fresh_jti(signer: AssertionSigner) -> None:
    server = FakeServer(expires_in=100)
    now = [1000.0]
    auth = ClientCredentialsAuth(TOKEN_URL, signer, client_id="1", leeway=30, clock=lambda: now[0])
    with server.client(auth) as client:
        client.get(API)
        now[0] += 69  # still fresh (refresh at 70 s)
        client.get(API)
        assert server.issued == 1
        now[0] += 2  # within the leeway: refreshed ahead of expiry
        client.get(API)
    assert server.issued == 2
    jtis = {_claims(f["client_assertion"])["jti"] for f in server.token_forms}
    assert len(jtis) == 2
    assert server.api_auth[-1] == "Bearer tok-2"


def test_short_lived_token_not_refetched_every_call(signer: AssertionSigner) -> None:
    server = FakeServer(expires_in=20)  # shorter than the leeway
    now = [0.0]
    auth = ClientCredentialsAuth(TOKEN_URL, signer, client_id="1", leeway=30, clock=lambda: now[0])
    with server.client(auth) as client:
        client.get(API)
        now[0] += 5
        client.get(API)
    assert server.issued == 1


def test_401_invalid_token_refetches_once(signer: AssertionSigner) -> None:
    server = FakeServer()
    auth = ClientCredentialsAuth(TOKEN_URL, signer, client_id="1")
    with server.client(auth) as client:
        client.get(API)
        server.revoked.add("tok-1")
        response = client.get(API)
        assert response.status_code == 200
        assert server.issued == 2
        server.revoked.add("tok-2")
        server.revoked.add("tok-3")
        response = client.get(API)
        assert response.status_code == 401  # fetched once more, then gave up
    assert server.issued == 3


def test_401_other_error_not_refetched(signer: AssertionSigner) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 60})
        return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'})

    auth = ClientCredentialsAuth(TOKEN_URL, signer, client_id="1")
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert client.get(API).status_code == 401
    assert auth.token_requests == 1


async def test_async_401_refetch(signer: AssertionSigner) -> None:
    server = FakeServer()
    auth = ClientCredentialsAuth(TOKEN_URL, signer, client_id="1")
    async with server.aclient(auth) as client:
        await client.get(API)
        server.revoked.add("tok-1")
        assert (await client.get(API)).status_code == 200
    assert server.issued == 2


pytestmark = pytest.mark.anyio


def test_single_flight_threads(signer: AssertionSigner) -> None:
    server = FakeServer(delay=0.02)
    auth = ClientCredentialsAuth(TOKEN_URL, signer, client_id="1")
    errors: list[BaseException] = []
    barrier = threading.Barrier(100)

    with server.client(auth) as client:

        def work() -> None:
            try:
                barrier.wait(timeout=30)
                assert client.get(API).status_code == 200
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert not errors
    assert server.issued == 1
    assert len(server.api_auth) == 100


async def test_single_flight_tasks(signer: AssertionSigner) -> None:
    server = FakeServer(delay=0.02)
    auth = ClientCredentialsAuth(TOKEN_URL, signer, client_id="1")
    statuses: list[int] = []
    async with server.aclient(auth) as client:

        async def work() -> None:
            statuses.append((await client.get(API)).status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(work)
    assert statuses == [200] * 100
    assert server.issued == 1


def test_lock_released_after_token_error(signer: AssertionSigner) -> None:
    server = FakeServer()
    server.token_answer = httpx.Response(403)
    auth = ClientCredentialsAuth(TOKEN_URL, signer, client_id="1")
    with server.client(auth) as client:
        with pytest.raises(TokenRequestError):
            client.get(API)
        server.token_answer = None
        assert client.get(API).status_code == 200  # not dead-locked


@pytest.mark.parametrize(
    ("response", "status", "error", "description"),
    [
        (
            httpx.Response(400, json={"error": "invalid_client", "error_description": "bad"}),
            400,
            "invalid_client",
            "bad",
        ),
        (httpx.Response(403), 403, None, "empty response body"),
        (
            httpx.Response(
                403, text="<html><body>Forbidden</body></html>", headers={"content-type": "text/html"}
            ),
            403,
            None,
            "non-JSON answer (text/html)",
        ),
        (httpx.Response(400, json={"error": "scope_invalid"}), 400, "scope_invalid", None),
        (httpx.Response(400, json=["x"]), 400, None, "JSON answer is not an object"),
        (httpx.Response(200, text="oops"), 200, "invalid_response", "200 answer is not JSON"),
        (
            httpx.Response(200, json={"token_type": "Bearer"}),
            200,
            "invalid_response",
            "answer has no access_token",
        ),
        (
            httpx.Response(200, json={"access_token": "x", "token_type": "mac"}),
            200,
            "invalid_response",
            "unsupported token_type",
        ),
        (
            httpx.Response(200, json={"access_token": "x", "expires_in": -5}),
            200,
            "invalid_response",
            "expires_in is not a positive number",
        ),
        (httpx.Response(500, text="Internal Server Error"), 500, None, "non-JSON answer (text/plain)"),
    ],
)
def test_token_errors(
    signer: AssertionSigner, response: httpx.Response, status: int, error: str | None, description: str | None
) -> None:
    server = FakeServer()
    server.token_answer = response
    auth = ClientCredentialsAuth(TOKEN_URL, signer, client_id="1")
    with server.client(auth) as client, pytest.raises(TokenRequestError) as info:
        client.get(API)
    assert (info.value.status, info.value.error, info.value.description) == (status, error, description)


def test_tls_client_auth_form() -> None:
    server = FakeServer()
    auth = TlsClientAuth(TOKEN_URL, client_id="twiin-mtls", scope="a b")
    with server.client(auth) as client:
        client.get(API)
    assert server.token_forms[0] == {
        "grant_type": "client_credentials",
        "scope": "a b",
        "client_id": "twiin-mtls",
    }


def test_jwt_bearer_carries_authorization_base(signer: AssertionSigner) -> None:
    server = FakeServer()
    cache = TokenCache()
    auth_a = JwtBearerAuth(
        TOKEN_URL, signer, client_id="12345678", authorization_base="AB-one", cache=cache, subject="87654321"
    )
    auth_b = JwtBearerAuth(
        TOKEN_URL,
        signer,
        client_id="12345678",
        authorization_base="AB-two",
        cache=cache,
        authorization_base_param="authorization_base",
    )
    with server.client(auth_a) as client:
        client.get(API)
        client.get(API, auth=auth_b)
        client.get(API)
    assert server.issued == 2  # cached per authorization base
    form = server.token_forms[0]
    assert form["grant_type"] == GRANT_JWT_BEARER
    grant = _claims(form["assertion"])
    assert grant["authorization_base"] == "AB-one"
    assert grant["sub"] == "87654321"
    assert grant["iss"] == "12345678"
    assert form["client_assertion_type"] == ASSERTION_TYPE
    assert _claims(form["client_assertion"])["jti"] != grant["jti"]
    assert "authorization_base" not in form
    assert server.token_forms[1]["authorization_base"] == "AB-two"
    assert "AB-one" not in repr(auth_a)
    assert "AB" not in repr(cache) + repr(auth_a.key())


def test_jwt_bearer_tls_client_auth(signer: AssertionSigner) -> None:
    server = FakeServer()
    auth = JwtBearerAuth(
        TOKEN_URL, signer, client_id="c", authorization_base="x", client_authentication="tls_client_auth"
    )
    with server.client(auth) as client:
        client.get(API)
    assert server.token_forms[0]["client_id"] == "c"
    assert "client_assertion" not in server.token_forms[0]


def test_token_exchange_form(signer: AssertionSigner) -> None:
    server = FakeServer()
    upstream = iter(["up-1", "up-2"])
    auth = TokenExchangeAuth(
        TOKEN_URL,
        subject_token=lambda: next(upstream),
        audience="https://other.test",
        requested_token_type="urn:ietf:params:oauth:token-type:access_token",
        signer=signer,
        client_id="1",
    )
    with server.client(auth) as client:
        client.get(API)
    form = server.token_forms[0]
    assert form["grant_type"] == GRANT_TOKEN_EXCHANGE
    assert form["subject_token"] == "up-1"
    assert form["subject_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert form["audience"] == "https://other.test"
    assert form["client_assertion_type"] == ASSERTION_TYPE


def test_token_exchanges_of_different_subjects_do_not_share_a_cached_token(signer: AssertionSigner) -> None:
    server = FakeServer()
    cache = TokenCache()

    def exchange(subject: str) -> TokenExchangeAuth:
        return TokenExchangeAuth(TOKEN_URL, subject_token=subject, signer=signer, client_id="1", cache=cache)

    with server.client(exchange("subject-a")) as client:
        client.get(API)
        client.get(API)
    with server.client(exchange("subject-b")) as client:
        client.get(API)
    with server.client(exchange("subject-a")) as client:
        client.get(API)
    assert [f["subject_token"] for f in server.token_forms] == ["subject-a", "subject-b"]
    assert server.api_auth == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2", "Bearer tok-1"]
    assert "subject-a" not in repr(exchange("subject-a").key())


def test_dpop_proofs() -> None:
    dpop = DPoPSigner.generate()

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            proof = _claims(request.headers["DPoP"])
            assert proof["htm"] == "POST"
            assert proof["htu"] == TOKEN_URL
            assert "ath" not in proof
            return httpx.Response(
                200, json={"access_token": "dp-tok", "token_type": "DPoP", "expires_in": 60}
            )
        assert request.headers["authorization"] == "DPoP dp-tok"
        proof = _claims(request.headers["DPoP"])
        assert proof["ath"] == access_token_hash("dp-tok")
        assert proof["htu"] == "https://fhir.example.test/fhir/Task"  # query dropped
        assert proof["htm"] == "GET"
        return httpx.Response(200)

    auth = TlsClientAuth(TOKEN_URL, client_id="c", dpop=dpop)
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert client.get(API + "?patient=1").status_code == 200


def test_configuration_errors(signer: AssertionSigner) -> None:
    with pytest.raises(ConfigurationError):
        ClientCredentialsAuth("http://as.example.test/token", signer, client_id="1")
    with pytest.raises(ConfigurationError):
        ClientCredentialsAuth(TOKEN_URL, signer, client_id="1", assertion_lifetime=3600)
    with pytest.raises(ConfigurationError):
        JwtBearerAuth(TOKEN_URL, signer, client_id="1", authorization_base="x", client_authentication="basic")


def test_token_repr_hides_secret(signer: AssertionSigner) -> None:
    server = FakeServer()
    auth = ClientCredentialsAuth(TOKEN_URL, signer, client_id="1")
    with server.client(auth) as client:
        client.get(API)
    token = auth.cached_token()
    assert token is not None
    assert "tok-1" not in repr(token)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1.evil.example/token",
        "http://localhost.evil.example/token",
        "http://as.example.test/token",
        "https://user:pw@as.example.test/token",
        "ftp://as.example.test/token",
        "https:///token",
    ],
)
def test_token_endpoint_must_be_https_or_loopback(signer: AssertionSigner, url: str) -> None:
    with pytest.raises(ConfigurationError, match="token_endpoint"):
        ClientCredentialsAuth(url, signer, client_id="1")
    with pytest.raises(ConfigurationError, match="token_endpoint"):
        TlsClientAuth(url, client_id="1")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/token", "http://localhost/token", "http://[::1]:9/t"])
def test_plain_http_token_endpoint_allowed_on_loopback(url: str) -> None:
    assert TlsClientAuth(url, client_id="1").token_endpoint == url


def test_cache_separates_scope_and_audience(signer: AssertionSigner) -> None:
    server = FakeServer()
    cache = TokenCache()
    flows = [
        ClientCredentialsAuth(TOKEN_URL, signer, client_id="1", scope="a", cache=cache),
        ClientCredentialsAuth(TOKEN_URL, signer, client_id="1", scope="b", cache=cache),
        ClientCredentialsAuth(TOKEN_URL, signer, client_id="1", scope="a", audience="x", cache=cache),
        ClientCredentialsAuth(TOKEN_URL, signer, client_id="2", scope="a", cache=cache),
    ]
    with server.client(flows[0]) as client:
        for auth in [*flows, *flows]:
            client.get(API, auth=auth)
    assert server.issued == 4  # one per distinct key, then all served from the shared cache
    assert len(cache) == 4
    assert server.api_auth[4:] == server.api_auth[:4]


def test_assertion_typ_and_nbf_configurable(signer: AssertionSigner) -> None:
    def header(jwt: str) -> dict[str, Any]:
        head = jwt.split(".", maxsplit=1)[0]
        return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))  # type: ignore[no-any-return]

    server = FakeServer()
    plain = ClientCredentialsAuth(TOKEN_URL, signer, client_id="1")
    custom = ClientCredentialsAuth(
        TOKEN_URL, signer, client_id="1", scope="s", assertion_typ=None, assertion_not_before=True
    )
    bearer = JwtBearerAuth(
        TOKEN_URL,
        signer,
        client_id="1",
        authorization_base="ab",
        assertion_typ="client-authentication+jwt",
        assertion_not_before=True,
    )
    with server.client(plain) as client:
        client.get(API)
        client.get(API, auth=custom)
        client.get(API, auth=bearer)
    default_form, custom_form, bearer_form = server.token_forms
    assert header(default_form["client_assertion"])["typ"] == "JWT"
    assert "nbf" not in _claims(default_form["client_assertion"])
    assert "typ" not in header(custom_form["client_assertion"])
    claims = _claims(custom_form["client_assertion"])
    assert claims["nbf"] == claims["iat"]
    for jwt in (bearer_form["assertion"], bearer_form["client_assertion"]):
        assert header(jwt)["typ"] == "client-authentication+jwt"
        assert "nbf" in _claims(jwt)
