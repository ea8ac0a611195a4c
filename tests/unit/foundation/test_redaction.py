"""Nothing secret or patient-identifying reaches a log line, error message or repr."""

from __future__ import annotations

import logging

import pytest

from twiin.audit import Auditor, MemorySink, Pseudonymizer
from twiin.credentials import Credentials
from twiin.errors import FHIRError, TransportError
from twiin.identifiers import Bsn, Ura
from twiin.redaction import RedactingFormatter, get_logger, redact
from twiin.testing.pki import TestPKI

BSN = "999999151"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl"


@pytest.mark.parametrize(
    "text",
    [
        f"patient {BSN} admitted",
        f"GET /Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|{BSN}",
        f"GET /Patient?identifier=http%3A%2F%2Ffhir.nl%2Ffhir%2FNamingSystem%2Fbsn%7C{BSN}",
        '{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "' + BSN + '"}',
        f'<id extension="{BSN}" root="2.16.840.1.113883.2.4.6.3"/>',
        f'<id root="2.16.840.1.113883.2.4.6.3" extension="{BSN}"/>',
    ],
)
def test_bsn_is_redacted(text: str) -> None:
    assert BSN not in redact(text)


def test_invalid_bsn_in_bsn_identifier_is_redacted_too() -> None:
    text = '{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "123456789"}'
    assert "123456789" not in redact(text)


def test_ordinary_numbers_survive() -> None:
    assert redact("took 123456789 ns, URA 00000659") == "took 123456789 ns, URA 00000659"


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {JWT}",
        "Authorization: Bearer abc.def-opaque_token~xyz",
        f"grant_type=client_credentials&client_assertion={JWT}&scope=x",
        '{"access_token": "opaque-secret-123", "token_type": "Bearer"}',
        "authorization_base=7f3d9a0c1e5b4a2f8d6c",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
    ],
)
def test_secrets_are_redacted(text: str) -> None:
    out = redact(text)
    for secret in (
        JWT,
        "abc.def-opaque_token~xyz",
        "opaque-secret-123",
        "7f3d9a0c1e5b4a2f8d6c",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    ):
        assert secret not in out


def test_twiin_loggers_redact_messages_args_and_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("twiin.test.redaction")
    with caplog.at_level(logging.DEBUG, logger="twiin"):
        log.debug("pulling for %s with token %s", BSN, f"Bearer {JWT}")
        try:
            raise ValueError(f"bad patient {BSN}")
        except ValueError:
            log.exception("failed")
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert BSN not in text
    assert JWT not in text
    assert "[BSN]" in text


def test_httpx_and_httpcore_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    import httpx

    from twiin._http import create_client

    url = f"https://fhir.example.test/Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|{BSN}"
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with caplog.at_level(logging.DEBUG), create_client(transport=transport, retry=None) as client:
        client.get(url)
        for name in ("httpcore.http11", "httpcore.http2", "httpcore.connection", "httpcore.proxy"):
            logging.getLogger(name).debug("receive_response_headers.complete return_value=%s", url)
    assert {r.name for r in caplog.records} >= {"httpx", "httpcore.http11", "httpcore.proxy"}
    assert BSN not in caplog.text


def test_redacting_formatter() -> None:
    record = logging.LogRecord("other", logging.INFO, __file__, 1, "bsn %s", (BSN,), None)
    assert BSN not in RedactingFormatter("%(message)s").format(record)


def test_error_messages_carry_redacted_urls() -> None:
    err = FHIRError("boom", status=500, url=f"https://x.test/Patient?identifier=bsn|{BSN}&token=abc")
    assert BSN not in str(err) + repr(err) + str(err.url)
    assert err.url == "https://x.test/Patient?<redacted>"
    terr = TransportError("down", url="https://user:pw@x.test/a?b=c", method="GET")
    assert "pw" not in str(terr)


def test_credentials_repr_has_no_key(pki: TestPKI) -> None:
    issued = pki.issue_server(ura="1")
    creds = issued.credentials()
    text = repr(creds) + str(creds)
    assert "PRIVATE" not in text
    assert "x5t#S256" in text
    assert isinstance(creds, Credentials)


def test_audit_events_hold_pseudonyms_not_bsns() -> None:
    sink = MemorySink()
    auditor = Auditor(sink, Pseudonymizer(b"k" * 32), "test-system", Ura("1"))
    event = auditor.record("pull.query", "success", patient=Bsn(BSN), query=f"Patient?identifier=bsn|{BSN}")
    assert BSN not in repr(event)
    assert BSN not in str(event.to_dict())
    assert event.patient_pseudonym == Pseudonymizer(b"k" * 32)(Bsn(BSN))
    assert event.patient_pseudonym != Pseudonymizer(b"j" * 32)(Bsn(BSN))
