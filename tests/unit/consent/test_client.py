"""``MitzClient`` / ``AsyncMitzClient`` through ``httpx.MockTransport`` driving the fake Mitz."""

from __future__ import annotations

import inspect
import logging
from datetime import date
from typing import Any

import pytest
from lxml import etree

from tests.unit.consent.conftest import PATIENT, make_question
from twiin import errors
from twiin._http.compat import httpx
from twiin.consent import (
    AsyncConsentChecker,
    AsyncMitzClient,
    ConsentChecker,
    DataCategory,
    MitzClient,
    MitzOptions,
    OpenQuestion,
    PatientLocation,
    SubscriptionRequest,
    ais_allowed,
    is_allowed,
)
from twiin.identifiers import Bsn, ProviderType, RoleCode, Ura, UziNumber
from twiin.serving import IncomingRequest
from twiin.testing.fake_mitz import FakeConsent, FakeMitz, Misbehaviour

BASE = "https://mitz.test/tst-us/mitz/"


def _incoming(request: httpx.Request) -> IncomingRequest:
    return IncomingRequest(request.method, str(request.url), dict(request.headers), request.read())


def _transport(fake: FakeMitz) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = fake.handle(_incoming(request))
        return httpx.Response(answer.status, headers=dict(answer.headers), content=answer.body)

    return httpx.MockTransport(handler)


class Both:
    """Runs the same scenario through the sync or the async facade."""

    def __init__(self, kind: str, fake: FakeMitz, options: MitzOptions | None = None) -> None:
        self.kind = kind
        self.fake = fake
        self.options = options or MitzOptions()

    def call(self, method: str, *args: Any) -> Any:
        if self.kind == "sync":
            with MitzClient(BASE, transport=_transport(self.fake), options=self.options) as client:
                return getattr(client, method)(*args)
        import anyio

        async def run() -> Any:
            async with AsyncMitzClient(BASE, transport=_transport(self.fake), options=self.options) as client:
                return await getattr(client, method)(*args)

        return anyio.run(run)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_facades_expose_the_same_methods() -> None:
    def public(cls: type) -> set[str]:
        return {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}

    assert public(MitzClient) == public(AsyncMitzClient)
    assert {"check", "locate", "subscribe", "close"} <= public(MitzClient)
    for name in public(MitzClient) - {"close"}:
        assert inspect.iscoroutinefunction(getattr(AsyncMitzClient, name))
        assert inspect.signature(getattr(MitzClient, name)) == inspect.signature(
            getattr(AsyncMitzClient, name)
        )


def test_clients_satisfy_the_protocols() -> None:
    sync = MitzClient(BASE, transport=_transport(FakeMitz()))
    asynchronous = AsyncMitzClient(BASE, transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    assert isinstance(sync, ConsentChecker)
    assert isinstance(asynchronous, AsyncConsentChecker)
    sync.close()


def test_check_permit_and_wire_details(kind: str) -> None:
    fake = FakeMitz([FakeConsent(Bsn(PATIENT), DataCategory.GGC002)])
    decision = Both(kind, fake).call("check", make_question(DataCategory.GGC002, DataCategory.GGC013))
    assert decision.allowed()
    (request,) = fake.requests
    assert request.url == "https://mitz.test/tst-us/mitz/geslotenautorisatievraag/xacml3"
    assert request.headers["content-type"].startswith("application/soap+xml; charset=UTF-8")
    message_id = etree.fromstring(request.body).findtext(".//{http://www.w3.org/2005/08/addressing}MessageID")
    assert decision.message_id == message_id
    assert request.headers["x-request-id"] == message_id.removeprefix("urn:uuid:")
    to = etree.fromstring(request.body).findtext(".//{http://www.w3.org/2005/08/addressing}To")
    assert to == request.url


def test_request_id_header_is_configurable(kind: str) -> None:
    fake = FakeMitz()
    Both(kind, fake, MitzOptions(request_id_header="X-Correlation-ID")).call("check", make_question())
    assert "x-correlation-id" in fake.requests[0].headers
    assert "x-request-id" not in fake.requests[0].headers


def test_redirect_is_refused_not_followed(kind: str) -> None:
    fake = FakeMitz(misbehaviour=Misbehaviour.REDIRECT)
    with pytest.raises(errors.ConsentRedirectRefused) as info:
        Both(kind, fake).call("check", make_question())
    assert info.value.status == 302
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        (Misbehaviour.SOAP_FAULT, errors.ConsentSoapFault),
        (Misbehaviour.HTTP_ERROR, errors.ConsentHTTPError),
        (Misbehaviour.NOT_SOAP, errors.ConsentNotSoap),
        (Misbehaviour.INDETERMINATE, errors.ConsentIndeterminate),
        (Misbehaviour.WRONG_PATIENT, errors.ConsentWrongPatient),
    ],
)
def test_errors_through_the_client_and_no_retry(
    kind: str, mode: Misbehaviour, error: type[Exception]
) -> None:
    fake = FakeMitz([FakeConsent(Bsn(PATIENT), DataCategory.GGC002)], misbehaviour=mode)
    with pytest.raises(error):
        Both(kind, fake).call("check", make_question())
    assert len(fake.requests) == 1


def test_response_size_cap(kind: str) -> None:
    fake = FakeMitz(misbehaviour=Misbehaviour.OVERSIZE)
    with pytest.raises(errors.ResponseTooLarge):
        Both(kind, fake, MitzOptions(max_response_bytes=64 * 1024)).call("check", make_question())


def test_fail_closed_on_transport_errors() -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    with MitzClient(BASE, transport=httpx.MockTransport(boom)) as client:
        with pytest.raises(errors.TimeoutError):
            client.check(make_question())
        assert is_allowed(client, make_question()) is False


@pytest.mark.anyio
async def test_async_fail_closed() -> None:
    fake = FakeMitz(
        [FakeConsent(Bsn(PATIENT), DataCategory.GGC002)], misbehaviour=Misbehaviour.NOT_APPLICABLE
    )
    async with AsyncMitzClient(BASE, transport=_transport(fake)) as client:
        assert await ais_allowed(client, make_question()) is False
        fake.misbehaviour = Misbehaviour.NONE
        assert await ais_allowed(client, make_question()) is True


def test_locate(kind: str) -> None:
    location = PatientLocation("urn:oid:1.2.3", "urn:oid:1.2.3.4", Ura("659"), (DataCategory.GGC013,))
    fake = FakeMitz(locations={Bsn(PATIENT): [location]})
    question = OpenQuestion(
        Bsn(PATIENT), Ura("666"), ProviderType("Z3"), UziNumber("1"), RoleCode("01.015"), "urn:oid:9"
    )
    assert Both(kind, fake).call("locate", question) == [location]
    assert fake.requests[0].url.endswith("/openautorisatievraag")
    assert "urn:ihe:iti:2009:PatientLocationQuery" in fake.requests[0].headers["content-type"]


def test_subscribe(kind: str) -> None:
    fake = FakeMitz(subscription_status=202)
    request = SubscriptionRequest(
        Bsn(PATIENT),
        Ura("659"),
        ProviderType("Z3"),
        "https://gtk/otv",
        "urn:oid:1.2",
        "urn:oid:1.3",
        date(2000, 1, 1),
    )
    receipt = Both(kind, fake).call("subscribe", request)
    assert receipt.status == 202
    assert receipt.id == "1"
    assert fake.subscriptions[0]["criteria"].endswith("&providerid=00000659&providertype=Z3")
    fake.subscription_status = 422
    with pytest.raises(errors.SubscriptionRuleViolation):
        Both(kind, fake).call("subscribe", request)


def test_no_bsn_in_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeMitz([FakeConsent(Bsn(PATIENT), DataCategory.GGC002)])
    for mode in (Misbehaviour.NONE, Misbehaviour.WRONG_PATIENT, Misbehaviour.SOAP_FAULT):
        fake.misbehaviour = mode
        try:
            Both("sync", fake).call("check", make_question())
        except errors.ConsentError as exc:
            logging.getLogger("twiin.test").exception("consent failed: %s", exc)
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records if r.name.startswith("twiin"))
    assert "mitz answer" in caplog.text  # the answer XML is logged at DEBUG ...
    assert "[BSN]" in caplog.text  # ... with the echoed BSNs masked
    assert PATIENT not in caplog.text
    assert "111222333" not in caplog.text
    assert PATIENT not in text


def test_base_url_must_be_absolute() -> None:
    with pytest.raises(errors.ConfigurationError):
        MitzClient("mitz.test", transport=_transport(FakeMitz()))


@pytest.mark.parametrize("facade", [MitzClient, AsyncMitzClient])
def test_plaintext_base_url_needs_an_explicit_opt_in(facade: type[Any]) -> None:
    plain = BASE.replace("https://", "http://")
    with pytest.raises(errors.ConfigurationError, match="plaintext") as info:
        facade(plain, transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    assert info.value.setting == "consent.mitz.base_url"
    fake = FakeMitz([FakeConsent(Bsn(PATIENT), DataCategory.GGC002)])
    with MitzClient(plain, transport=_transport(fake), allow_plaintext=True) as client:
        assert client.check(make_question()).allowed()


def test_signed_requests(pki) -> None:  # type: ignore[no-untyped-def]
    creds = pki.issue_server(ura="659").credentials()
    fake = FakeMitz([FakeConsent(Bsn(PATIENT), DataCategory.GGC002)], require_signature=True)
    with MitzClient(BASE, credentials=creds, sign_requests=True, transport=_transport(fake)) as client:
        assert client.check(make_question()).allowed()
    with MitzClient(BASE, credentials=creds, transport=_transport(fake)) as client:
        with pytest.raises(errors.ConsentSoapFault) as info:
            client.check(make_question())
        assert info.value.fault_code == "soap:Sender"
    with pytest.raises(errors.ConfigurationError):
        MitzClient(BASE, sign_requests=True, transport=_transport(fake))


def _auditor():  # type: ignore[no-untyped-def]
    from twiin.audit import Auditor, MemorySink, Pseudonymizer

    sink = MemorySink()
    return sink, Auditor(sink, Pseudonymizer(b"k" * 32), "twiin-test", Ura("659"))


def test_every_closed_question_is_audited() -> None:
    sink, auditor = _auditor()
    fake = FakeMitz([FakeConsent(Bsn(PATIENT), DataCategory.GGC013)])
    with MitzClient(BASE, transport=_transport(fake), auditor=auditor) as client:
        decision = client.check(make_question(DataCategory.GGC002, DataCategory.GGC013))
        assert client.check(make_question(DataCategory.GGC013)).allowed()
        fake.misbehaviour = Misbehaviour.INDETERMINATE
        with pytest.raises(errors.ConsentIndeterminate):
            client.check(make_question())
    first, second, third = sink.events
    assert [e.outcome for e in sink.events] == ["denied", "success", "failure"]
    assert first.action == "consent.mitz.closed-question"
    assert first.detail == "GGC002=Deny,GGC013=Permit"
    assert first.correlation_id == decision.message_id
    assert first.peer_ura == "00000666"
    assert first.patient_pseudonym == second.patient_pseudonym
    assert third.detail == "ConsentIndeterminate"
    assert PATIENT not in str([e.to_dict() for e in sink.events])


@pytest.mark.anyio
async def test_async_audit_on_transport_failure() -> None:
    sink, auditor = _auditor()

    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with AsyncMitzClient(BASE, transport=httpx.MockTransport(boom), auditor=auditor) as client:
        with pytest.raises(errors.ConnectionError):
            await client.check(make_question())
    assert [(e.outcome, e.detail) for e in sink.events] == [("failure", "ConnectionError")]
