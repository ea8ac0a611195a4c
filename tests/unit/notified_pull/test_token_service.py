"""The sender's token endpoint: JWT-bearer grant with the authorization base, bound tokens."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from twiin.auth import JwtBearerAuth
from twiin.auth.server import AssertionPolicy, MemoryAuthorizationBaseStore
from twiin.errors import AuthorizationBaseError, InvalidTokenError
from twiin.exchange.notified_pull import PullTokenService
from twiin.serving import IncomingRequest
from twiin.testing.pki import TestPKI

from .conftest import PATIENT, RECEIVER

TOKEN_URL = "https://sender.example/token"


@pytest.fixture(scope="module")
def pki():
    return TestPKI(key_type="ec256")


@pytest.fixture(scope="module")
def receiver(pki):
    return pki.issue_server(ura=RECEIVER.value, uzi_number="900000002", key_type="ec256").credentials()


@pytest.fixture(scope="module")
def other(pki):
    return pki.issue_server(ura="33333333", uzi_number="900000003", key_type="ec256").credentials()


@pytest.fixture
def service(pki):
    policy = AssertionPolicy(audience=TOKEN_URL, trust=pki.trust_anchors, check_revocation=False,
                             intermediates=(pki.intermediate.certificate,))  # fmt: skip
    return PullTokenService(policy, MemoryAuthorizationBaseStore())


def token_request(creds, base_value, *, client_id=None, form_override=None):
    auth = JwtBearerAuth(
        TOKEN_URL, creds, client_id=client_id or RECEIVER.value, authorization_base=base_value
    )
    form = dict(auth.token_form(auth.clock()))
    form.update(form_override or {})
    body = urlencode(form).encode()
    return IncomingRequest("POST", TOKEN_URL, {"content-type": "application/x-www-form-urlencoded"}, body,
                           creds.certificate)  # fmt: skip


def issue(service):
    return service.bases.issue(PATIENT, RECEIVER, ["Condition"], ttl=timedelta(hours=1))


def test_valid_grant_gives_a_bound_token(service, receiver, other):
    base = issue(service)
    answer = service.handle(token_request(receiver, base.value))
    assert answer.status == 200
    payload = json.loads(answer.body)
    assert payload["token_type"] == "Bearer"
    grant = service.verify(payload["access_token"], receiver.certificate)
    assert (grant.client_ura, grant.patient, grant.authorization_base_id) == (RECEIVER, PATIENT, base.id)
    with pytest.raises(InvalidTokenError):
        service.verify(payload["access_token"], other.certificate)
    with pytest.raises(InvalidTokenError):
        service.verify("forged", receiver.certificate)
    assert base.value not in repr(service)


def test_revocation_invalidates_issued_tokens_and_new_grants(service, receiver):
    base = issue(service)
    token = json.loads(service.handle(token_request(receiver, base.value)).body)["access_token"]
    service.bases.revoke(base.value)
    with pytest.raises(AuthorizationBaseError):
        service.verify(token, receiver.certificate)
    answer = service.handle(token_request(receiver, base.value))
    assert answer.status == 400
    assert json.loads(answer.body)["error"] == "invalid_grant"


def test_base_issued_to_someone_else_is_invalid_grant(service, other):
    base = issue(service)
    answer = service.handle(token_request(other, base.value, client_id="33333333"))
    assert (answer.status, json.loads(answer.body)["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    ("override", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"client_assertion": ""}, 401, "invalid_client"),
        ({"assertion": ""}, 400, "invalid_request"),
        ({"assertion": "not.a.jwt"}, 400, "invalid_grant"),
        ({"client_assertion": "not.a.jwt"}, 401, "invalid_client"),
    ],
)
def test_malformed_token_requests(service, receiver, override, status, error):
    base = issue(service)
    answer = service.handle(token_request(receiver, base.value, form_override=override))
    assert (answer.status, json.loads(answer.body)["error"]) == (status, error)


def test_replayed_assertions_are_refused(service, receiver):
    base = issue(service)
    request = token_request(receiver, base.value)
    assert service.handle(request).status == 200
    assert service.handle(request).status == 401


def test_unknown_base_and_wrong_content_type(service, receiver):
    assert service.handle(token_request(receiver, "no-such-base")).status == 400
    bad = IncomingRequest(
        "POST", TOKEN_URL, {"content-type": "application/json"}, b"{}", receiver.certificate
    )
    assert service.handle(bad).status == 400
