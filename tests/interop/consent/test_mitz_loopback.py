"""MitzClient and AsyncMitzClient against the fake Mitz over real loopback mTLS with the test PKI.

The fake Mitz is team-written (there is no independent Mitz/XACML peer, test-peers.md §6): these
tests prove SDK <-> fake behaviour over real TLS, sockets and HTTP, not conformance to Mitz.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from tests.unit.consent.conftest import PATIENT, make_question
from twiin import errors
from twiin._http import server_ssl_context
from twiin.consent import AsyncMitzClient, DataCategory, Decision, MitzClient, is_allowed
from twiin.identifiers import Bsn
from twiin.testing.fake_mitz import FakeConsent, FakeMitz, Misbehaviour
from twiin.testing.pki import TestPKI
from twiin.testing.server import RunningServer, serve

G2, G12, G13 = DataCategory.GGC002, DataCategory.GGC012, DataCategory.GGC013


@pytest.fixture(scope="module")
def fake() -> FakeMitz:
    return FakeMitz([FakeConsent(Bsn(PATIENT), G13)], require_client_certificate=True)


@pytest.fixture(scope="module")
def mitz(pki: TestPKI, fake: FakeMitz) -> Iterator[RunningServer]:
    identity = pki.issue_server(ura="90000001", hostname="127.0.0.1")
    ctx = server_ssl_context(identity.credentials(), pki.trust_anchors, require_client_certificate=True)
    with serve(fake.handle, ctx) as running:
        yield running


@pytest.fixture(scope="module")
def client_credentials(pki: TestPKI):  # type: ignore[no-untyped-def]
    return pki.issue_server(ura="659", uzi_number="900000659").credentials()


@pytest.fixture(autouse=True)
def _reset(fake: FakeMitz) -> None:
    fake.misbehaviour = Misbehaviour.NONE
    fake.requests.clear()


def test_closed_question_over_mtls(
    mitz: RunningServer, pki: TestPKI, client_credentials, fake: FakeMitz
) -> None:  # type: ignore[no-untyped-def]
    with MitzClient(
        mitz.url("/tst-us/mitz"), credentials=client_credentials, trust=pki.trust_anchors
    ) as client:
        decision = client.check(make_question(G2, G13))
        assert decision.decisions == {G2: Decision.DENY, G13: Decision.PERMIT}
        assert client.check(make_question(G13)).allowed()
    peer = fake.requests[0].peer_certificate
    assert peer is not None
    assert peer.subject == client_credentials.certificate.subject


def test_error_case_over_mtls(mitz: RunningServer, pki: TestPKI, client_credentials, fake: FakeMitz) -> None:  # type: ignore[no-untyped-def]
    fake.misbehaviour = Misbehaviour.SOAP_FAULT
    with MitzClient(mitz.base_url, credentials=client_credentials, trust=pki.trust_anchors) as client:
        with pytest.raises(errors.ConsentSoapFault) as info:
            client.check(make_question())
        assert info.value.status == 500
        assert is_allowed(client, make_question()) is False


def test_oversize_answer_is_capped_over_mtls(
    mitz: RunningServer, pki: TestPKI, client_credentials, fake: FakeMitz
) -> None:  # type: ignore[no-untyped-def]
    fake.misbehaviour = Misbehaviour.OVERSIZE
    with MitzClient(mitz.base_url, credentials=client_credentials, trust=pki.trust_anchors) as client:
        with pytest.raises((errors.ResponseTooLarge, errors.UnsafeXML)):
            client.check(make_question())


def test_missing_client_certificate_is_refused(mitz: RunningServer, pki: TestPKI) -> None:
    with MitzClient(mitz.base_url, trust=pki.trust_anchors) as client, pytest.raises(errors.TLSError):
        client.check(make_question())


def test_untrusted_mitz_is_refused(mitz: RunningServer, rogue_pki: TestPKI, client_credentials) -> None:  # type: ignore[no-untyped-def]
    with MitzClient(mitz.base_url, credentials=client_credentials, trust=rogue_pki.trust_anchors) as client:
        with pytest.raises(errors.TLSError):
            client.check(make_question())


def test_async_concurrent_questions_over_mtls(
    mitz: RunningServer, pki: TestPKI, client_credentials, fake: FakeMitz
) -> None:  # type: ignore[no-untyped-def]
    results: list[bool] = []

    async def main() -> None:
        async with AsyncMitzClient(
            mitz.base_url, credentials=client_credentials, trust=pki.trust_anchors
        ) as client:

            async def one(category: DataCategory) -> None:
                results.append((await client.check(make_question(category))).allowed())

            async with anyio.create_task_group() as group:
                for i in range(20):
                    group.start_soon(one, (G2, G13)[i % 2])

    anyio.run(main)
    assert sorted(results) == [False] * 10 + [True] * 10
    assert len(fake.requests) == 20


def test_signed_question_over_mtls(
    mitz: RunningServer, pki: TestPKI, client_credentials, fake: FakeMitz
) -> None:  # type: ignore[no-untyped-def]
    fake.require_signature = True
    try:
        with MitzClient(
            mitz.base_url, credentials=client_credentials, trust=pki.trust_anchors, sign_requests=True
        ) as client:
            assert client.check(make_question(G13)).allowed()
        other = pki.issue_server(ura="660").credentials()
        with MitzClient(mitz.base_url, credentials=client_credentials, trust=pki.trust_anchors) as client:
            signed_by_other = MitzClient(
                mitz.base_url, credentials=other, trust=pki.trust_anchors, sign_requests=True
            )
            call = signed_by_other._core.closed(make_question(G13))
            signed_by_other.close()
            response = client._client.post(call.url, content=call.body, headers=call.headers)
            assert response.status_code == 400
            assert b"not the TLS client certificate" in response.content
    finally:
        fake.require_signature = False
