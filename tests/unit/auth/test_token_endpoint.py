"""TokenEndpoint.handle: grants, client authentication, RFC 6749 answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from twiin.auth import ASSERTION_TYPE, AssertionSigner, build_client_assertion
from twiin.auth.server import (
    AssertionPolicy,
    MemoryAuthorizationBaseStore,
    TokenEndpoint,
    TokenIssuer,
    verify_access_token,
)
from twiin.identifiers import Bsn, Ura
from twiin.serving import Answer, IncomingRequest
from twiin.testing.pki import IssuedCertificate, TestPKI

from .conftest import CLIENT_URA, ISSUER, OTHER_URA

TOKEN_URL = f"{ISSUER}/token"
PATIENT = Bsn("999999151")
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def store() -> MemoryAuthorizationBaseStore:
    return MemoryAuthorizationBaseStore()


@pytest.fixture
def endpoint(
    pki: TestPKI, server_cert: IssuedCertificate, store: MemoryAuthorizationBaseStore
) -> TokenEndpoint:
    policy = AssertionPolicy(
        audience=TOKEN_URL,
        trust=pki.trust_anchors,
        check_revocation=False,
        intermediates=(pki.intermediate.certificate,),
        clients={"twiin-mtls": Ura(CLIENT_URA)},
    )
    issuer = TokenIssuer(AssertionSigner(server_cert.credentials()), issuer=ISSUER)
    return TokenEndpoint(
        issuer=issuer, policy=policy, store=store, allowed_scopes=frozenset({"system/Task.read"})
    )


def _post(endpoint: TokenEndpoint, form: dict[str, str], cert: IssuedCertificate | None, **kw: Any) -> Answer:
    request = IncomingRequest(
        kw.pop("method", "POST"),
        TOKEN_URL,
        kw.pop("headers", FORM),
        urlencode(form).encode(),
        cert.certificate if cert else None,
    )
    return endpoint.handle(request)


def _cc_form(signer: AssertionSigner, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": build_client_assertion(signer, client_id=CLIENT_URA, audience=TOKEN_URL),
        **extra,
    }


def test_client_credentials(
    endpoint: TokenEndpoint, signer: AssertionSigner, client_cert: IssuedCertificate
) -> None:
    answer = _post(endpoint, _cc_form(signer, scope="system/Task.read"), client_cert)
    assert answer.status == 200, answer.body
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json_body()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "system/Task.read"
    claims = verify_access_token(
        body["access_token"], peer_certificate=client_cert.certificate, issuer=endpoint.issuer
    )
    assert claims.client_ura == Ura(CLIENT_URA)


def test_two_requests_need_two_assertions(
    endpoint: TokenEndpoint, signer: AssertionSigner, client_cert: IssuedCertificate
) -> None:
    form = _cc_form(signer)
    assert _post(endpoint, form, client_cert).status == 200
    replay = _post(endpoint, form, client_cert)
    assert replay.status == 401
    assert replay.json_body()["error"] == "invalid_client"
    assert "replay" in replay.json_body()["error_description"]
    assert _post(endpoint, _cc_form(signer), client_cert).status == 200


def test_tls_client_auth(
    endpoint: TokenEndpoint, client_cert: IssuedCertificate, other_cert: IssuedCertificate
) -> None:
    ok = _post(endpoint, {"grant_type": "client_credentials", "client_id": "twiin-mtls"}, client_cert)
    assert ok.status == 200
    wrong = _post(endpoint, {"grant_type": "client_credentials", "client_id": "twiin-mtls"}, other_cert)
    assert wrong.status == 401
    assert wrong.json_body()["error"] == "invalid_client"


def test_tls_client_auth_rogue(endpoint: TokenEndpoint, rogue_cert: IssuedCertificate) -> None:
    answer = _post(endpoint, {"grant_type": "client_credentials", "client_id": CLIENT_URA}, rogue_cert)
    assert answer.status == 401


def test_no_client_authentication(endpoint: TokenEndpoint, client_cert: IssuedCertificate) -> None:
    answer = _post(endpoint, {"grant_type": "client_credentials"}, client_cert)
    assert answer.status == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_requires_tls_certificate(endpoint: TokenEndpoint, signer: AssertionSigner) -> None:
    answer = _post(endpoint, _cc_form(signer), None)
    assert answer.status == 401


@pytest.mark.parametrize(
    ("kw", "form", "status", "error"),
    [
        ({"method": "GET"}, {}, 405, "invalid_request"),
        (
            {"headers": {"content-type": "application/json"}},
            {"grant_type": "client_credentials"},
            400,
            "invalid_request",
        ),
        ({}, {"grant_type": "password", "client_id": "twiin-mtls"}, 400, "unsupported_grant_type"),
        ({}, {"client_id": "twiin-mtls"}, 400, "invalid_request"),
        (
            {},
            {"grant_type": "client_credentials", "client_id": "twiin-mtls", "scope": "admin"},
            400,
            "invalid_scope",
        ),
    ],
)
def test_request_errors(
    endpoint: TokenEndpoint,
    client_cert: IssuedCertificate,
    kw: dict[str, Any],
    form: dict[str, str],
    status: int,
    error: str,
) -> None:
    answer = _post(endpoint, form, client_cert, **kw)
    assert answer.status == status
    assert answer.json_body()["error"] == error


def test_repeated_and_malformed_form(endpoint: TokenEndpoint, client_cert: IssuedCertificate) -> None:
    for body in (b"grant_type=a&grant_type=b", b"\xff\xfe", b"a" * 70_000):
        answer = endpoint.handle(IncomingRequest("POST", TOKEN_URL, FORM, body, client_cert.certificate))
        assert answer.status == 400
        assert answer.json_body()["error"] == "invalid_request"


def _bearer_form(
    signer: AssertionSigner, value: str | None, *, extra_claims: dict[str, Any] | None = None, **form: str
) -> dict[str, str]:
    claims = dict(extra_claims or {})
    if value is not None:
        claims["authorization_base"] = value
    return {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": build_client_assertion(
            signer, client_id=CLIENT_URA, subject=OTHER_URA, audience=TOKEN_URL, extra_claims=claims
        ),
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": build_client_assertion(signer, client_id=CLIENT_URA, audience=TOKEN_URL),
        **form,
    }


def test_jwt_bearer_with_authorization_base(
    endpoint: TokenEndpoint,
    signer: AssertionSigner,
    client_cert: IssuedCertificate,
    store: MemoryAuthorizationBaseStore,
) -> None:
    base = store.issue(PATIENT, Ura(CLIENT_URA), ("Patient", "Condition"))
    answer = _post(endpoint, _bearer_form(signer, base.value), client_cert)
    assert answer.status == 200, answer.body
    claims = verify_access_token(
        answer.json_body()["access_token"],
        peer_certificate=client_cert.certificate,
        issuer=endpoint.issuer,
        store=store,
    )
    assert claims.patient == PATIENT
    assert claims.queries == ("Patient", "Condition")
    # also accepted as a form parameter
    base2 = store.issue(PATIENT, Ura(CLIENT_URA), ("Patient",))
    assert (
        _post(endpoint, _bearer_form(signer, None, authorization_base=base2.value), client_cert).status == 200
    )


def _grant_error(answer: Answer) -> str:
    assert answer.status == 400, answer.body
    body = answer.json_body()
    assert body["error"] == "invalid_grant"
    return str(body["error_description"])


def test_jwt_bearer_negatives(
    endpoint: TokenEndpoint,
    signer: AssertionSigner,
    client_cert: IssuedCertificate,
    store: MemoryAuthorizationBaseStore,
) -> None:
    now = datetime.now(UTC)
    other_receiver = store.issue(PATIENT, Ura(OTHER_URA), ("Patient",))
    assert "another organisation" in _grant_error(
        _post(endpoint, _bearer_form(signer, other_receiver.value), client_cert)
    )
    revoked = store.issue(PATIENT, Ura(CLIENT_URA), ("Patient",))
    store.revoke(revoked.value)
    assert "revoked" in _grant_error(_post(endpoint, _bearer_form(signer, revoked.value), client_cert))
    expired = store.issue(
        PATIENT,
        Ura(CLIENT_URA),
        ("Patient",),
        expires_at=now - timedelta(minutes=1),
        now=now - timedelta(hours=1),
    )
    assert "expired" in _grant_error(_post(endpoint, _bearer_form(signer, expired.value), client_cert))
    assert "unknown" in _grant_error(_post(endpoint, _bearer_form(signer, "guessed-value-123"), client_cert))
    assert "no authorization base" in _grant_error(_post(endpoint, _bearer_form(signer, None), client_cert))
    good = store.issue(PATIENT, Ura(CLIENT_URA), ("Patient",))
    assert "differs" in _grant_error(
        _post(
            endpoint, _bearer_form(signer, good.value, authorization_base=other_receiver.value), client_cert
        )
    )
    form = _bearer_form(signer, good.value)
    form["assertion"] = build_client_assertion(
        signer,
        client_id=CLIENT_URA,
        audience="https://elsewhere/token",
        extra_claims={"authorization_base": good.value},
    )
    assert "aud" in _grant_error(_post(endpoint, form, client_cert))
    # no secret is echoed
    answer = _post(endpoint, _bearer_form(signer, revoked.value), client_cert)
    assert revoked.value not in answer.body.decode()


def test_jwt_bearer_grant_for_another_patient_is_not_possible(
    endpoint: TokenEndpoint,
    signer: AssertionSigner,
    client_cert: IssuedCertificate,
    store: MemoryAuthorizationBaseStore,
) -> None:
    """The token's patient comes only from the base: a claimed patient in the grant is ignored."""
    base = store.issue(PATIENT, Ura(CLIENT_URA), ("Patient",))
    form = _bearer_form(signer, base.value, extra_claims={"patient": "999998286"})
    answer = _post(endpoint, form, client_cert)
    claims = verify_access_token(
        answer.json_body()["access_token"],
        peer_certificate=client_cert.certificate,
        issuer=endpoint.issuer,
        store=store,
    )
    assert claims.patient == PATIENT


def test_answers_are_json(endpoint: TokenEndpoint, client_cert: IssuedCertificate) -> None:
    answer = _post(endpoint, {}, client_cert)
    assert answer.headers["content-type"] == "application/json"
    json.loads(answer.body)


# --- token exchange (RFC 8693) ----------------------------------------------------------------

GRANT_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture
def exchanger(endpoint: TokenEndpoint, store: MemoryAuthorizationBaseStore) -> TokenEndpoint:
    """An endpoint with token exchange on and no scope allow-list."""
    return TokenEndpoint(issuer=endpoint.issuer, policy=endpoint.policy, store=store, token_exchange=True)


def _access_token(answer: Answer) -> str:
    assert answer.status == 200, answer.body
    return str(answer.json_body()["access_token"])


def _exchange_form(signer: AssertionSigner, subject_token: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": GRANT_EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": build_client_assertion(signer, client_id=CLIENT_URA, audience=TOKEN_URL),
        **extra,
    }


def test_token_exchange_is_off_unless_enabled(
    endpoint: TokenEndpoint, signer: AssertionSigner, client_cert: IssuedCertificate
) -> None:
    token = _access_token(_post(endpoint, _cc_form(signer), client_cert))
    answer = _post(endpoint, _exchange_form(signer, token), client_cert)
    assert (answer.status, answer.json_body()["error"]) == (400, "unsupported_grant_type")


def test_token_exchange_keeps_or_narrows_scope(
    exchanger: TokenEndpoint, signer: AssertionSigner, client_cert: IssuedCertificate
) -> None:
    held = _access_token(_post(exchanger, _cc_form(signer, scope="a b"), client_cert))
    answer = _post(exchanger, _exchange_form(signer, held, scope="a"), client_cert)
    body = answer.json_body()
    assert body["issued_token_type"] == ACCESS
    assert body["access_token"] != held
    claims = verify_access_token(
        body["access_token"], peer_certificate=client_cert.certificate, issuer=exchanger.issuer
    )
    assert claims.scope == ("a",)
    assert claims.client_ura == Ura(CLIENT_URA)
    same = _access_token(_post(exchanger, _exchange_form(signer, held), client_cert))
    assert verify_access_token(
        same, peer_certificate=client_cert.certificate, issuer=exchanger.issuer
    ).scope == (
        "a",
        "b",
    )
    wider = _post(exchanger, _exchange_form(signer, held, scope="a c"), client_cert)
    assert (wider.status, wider.json_body()["error"]) == (400, "invalid_scope")


def test_token_exchange_refusals(
    exchanger: TokenEndpoint,
    signer: AssertionSigner,
    client_cert: IssuedCertificate,
) -> None:
    held = _access_token(_post(exchanger, _cc_form(signer), client_cert))
    foreign, _ = exchanger.issuer.issue(
        client_id=OTHER_URA, client_ura=Ura(OTHER_URA)
    )  # unbound, other client
    sibling, _ = exchanger.issuer.issue(client_id="other-client", client_ura=Ura(CLIENT_URA))  # same URA
    revoked = _access_token(_post(exchanger, _cc_form(signer), client_cert))
    exchanger.issuer.revoke(revoked)
    cases = [
        (_exchange_form(signer, foreign), "invalid_grant", "another client"),
        (_exchange_form(signer, sibling), "invalid_grant", "another client"),
        (_exchange_form(signer, revoked), "invalid_grant", "revoked"),
        (_exchange_form(signer, "not-a-token"), "invalid_grant", "subject token refused"),
        (_exchange_form(signer, held, subject_token_type="urn:x"), "invalid_request", "subject_token"),
        (_exchange_form(signer, held, requested_token_type="urn:x"), "invalid_request", "access tokens"),
        (_exchange_form(signer, held, actor_token=held), "invalid_request", "actor_token"),
        (_exchange_form(signer, held, audience="https://elsewhere"), "invalid_target", "resource server"),
        (_exchange_form(signer, held, resource="https://elsewhere"), "invalid_target", "resource server"),
    ]
    for form, error, reason in cases:
        answer = _post(exchanger, form, client_cert)
        body = answer.json_body()
        assert (answer.status, body["error"]) == (400, error), body
        assert reason in body["error_description"]
        assert held not in answer.body.decode()


def test_token_exchange_of_a_token_bound_to_another_certificate(
    exchanger: TokenEndpoint, signer: AssertionSigner, client_cert: IssuedCertificate, pki: TestPKI
) -> None:
    second = pki.issue_server(ura=CLIENT_URA, uzi_number="900000003", key_type="ec256")  # same URA, other key
    held = _access_token(_post(exchanger, _cc_form(signer), client_cert))
    second_signer = AssertionSigner(second.credentials())
    answer = _post(exchanger, _exchange_form(second_signer, held), second)
    assert answer.json_body()["error"] == "invalid_grant"
    assert "another certificate" in answer.json_body()["error_description"]


def test_token_exchange_carries_the_authorization_base(
    exchanger: TokenEndpoint,
    signer: AssertionSigner,
    client_cert: IssuedCertificate,
    store: MemoryAuthorizationBaseStore,
) -> None:
    base = store.issue(PATIENT, Ura(CLIENT_URA), ("Patient", "Condition"))
    held = _access_token(_post(exchanger, _bearer_form(signer, base.value), client_cert))
    fresh = _access_token(_post(exchanger, _exchange_form(signer, held), client_cert))
    claims = verify_access_token(
        fresh, peer_certificate=client_cert.certificate, issuer=exchanger.issuer, store=store
    )
    assert (claims.patient, claims.queries, claims.authorization_base_id) == (
        PATIENT,
        ("Patient", "Condition"),
        base.id,
    )
    store.revoke(base.value)
    answer = _post(exchanger, _exchange_form(signer, held), client_cert)
    assert answer.json_body()["error"] == "invalid_grant"
    assert "revoked" in answer.json_body()["error_description"]


def test_token_exchange_flow_against_our_endpoint(
    exchanger: TokenEndpoint, signer: AssertionSigner, client_cert: IssuedCertificate
) -> None:
    """Our TokenExchangeAuth client and our endpoint agree on the RFC 8693 form."""
    import httpx

    from twiin.auth import TokenExchangeAuth

    held = _access_token(_post(exchanger, _cc_form(signer, scope="a b"), client_cert))
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            incoming = IncomingRequest(
                request.method,
                str(request.url),
                dict(request.headers),
                request.content,
                client_cert.certificate,
            )
            answer = exchanger.handle(incoming)
            return httpx.Response(answer.status, headers=dict(answer.headers), content=answer.body)
        token = request.headers["authorization"].removeprefix("Bearer ")
        seen.append(token)
        claims = verify_access_token(token, peer_certificate=client_cert.certificate, issuer=exchanger.issuer)
        return httpx.Response(200, json={"scope": list(claims.scope)})

    auth = TokenExchangeAuth(TOKEN_URL, subject_token=held, signer=signer, client_id=CLIENT_URA, scope="b")
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert client.get("https://fhir.example.test/fhir/Task").json() == {"scope": ["b"]}
    assert len(seen) == 1
    assert seen[0] != held
