"""OperationOutcome parsing, error mapping, ETag helpers, bundle correlation."""

from __future__ import annotations

import logging

import pytest

from tests.unit.fhir.runners import BASE, SyncRunner, fhir_response
from twiin._http.compat import httpx
from twiin.errors import (
    ConflictError,
    FHIRError,
    ModelValidationError,
    NotFoundError,
    ServerError,
    UnprocessableError,
)
from twiin.fhir import (
    FhirVersion,
    correlate,
    error_for_response,
    etag_value,
    if_match_header,
    issues_of,
    operation_outcome_of,
    version_id_from_etag,
)

BSN = "999999151"
OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [
        {"severity": "warning", "code": "informational", "diagnostics": "fyi"},
        {
            "severity": "error",
            "code": "invalid",
            "details": {"text": f"bad identifier {BSN}"},
            "expression": ["Task.for"],
        },
    ],
}


def response(
    status: int, body: object = None, content_type: str = "application/fhir+json", **headers: str
) -> httpx.Response:
    request = httpx.Request("GET", f"{BASE}/Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|{BSN}")
    if isinstance(body, bytes):
        return httpx.Response(
            status, content=body, headers={"Content-Type": content_type, **headers}, request=request
        )
    if body is None:
        return httpx.Response(status, headers=headers, request=request)
    return httpx.Response(
        status, json=body, headers={"Content-Type": content_type, **headers}, request=request
    )


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, FHIRError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableError),
        (500, ServerError),
        (504, ServerError),
    ],
)
def test_error_classes_outcome_and_redaction(status: int, cls: type[FHIRError]) -> None:
    err = error_for_response(response(status, OUTCOME))
    assert type(err) is cls
    assert isinstance(err, FHIRError)
    assert err.status == status
    assert err.method == "GET"
    assert err.url == f"{BASE}/Patient?<redacted>"
    assert [i.code for i in issues_of(err.operation_outcome)] == ["informational", "invalid"]
    text = str(err) + repr(err)
    assert BSN not in text
    assert "invalid" in text


def test_error_without_body_or_with_junk_body() -> None:
    assert error_for_response(response(502)).operation_outcome is None
    err = error_for_response(response(500, b"<html>oops</html>", "text/html"))
    assert err.operation_outcome is None
    assert "500" in str(err)


def test_xml_operation_outcome() -> None:
    xml = (
        b'<OperationOutcome xmlns="http://hl7.org/fhir"><issue><severity value="error"/>'
        b'<code value="not-found"/><diagnostics value="gone"/></issue></OperationOutcome>'
    )
    err = error_for_response(response(404, xml, "application/fhir+xml"), FhirVersion.STU3)
    assert issues_of(err.operation_outcome)[0].diagnostics == "gone"


def test_operation_outcome_of_sources() -> None:
    assert operation_outcome_of(OUTCOME).issue[1].code == "invalid"
    assert operation_outcome_of({"resourceType": "Task"}) is None
    assert operation_outcome_of(b"") is None
    lenient = operation_outcome_of({"resourceType": "OperationOutcome", "issue": [{"code": "x", "oops": 1}]})
    assert isinstance(lenient, dict)
    assert issues_of(lenient)[0].code == "x"
    err = error_for_response(response(404, OUTCOME))
    assert operation_outcome_of(err) is err.operation_outcome
    assert operation_outcome_of(response(404, OUTCOME)).issue[0].diagnostics == "fyi"


def test_etag_helpers() -> None:
    assert version_id_from_etag('W/"abc-1"') == "abc-1"
    assert version_id_from_etag('"7"') == "7"
    assert version_id_from_etag("7") == "7"
    assert version_id_from_etag(None) is None
    assert version_id_from_etag('W/""') is None
    assert etag_value("00012") == 'W/"00012"'  # opaque: leading zeros kept
    assert if_match_header(" 5 ") == 'W/"5"'


def test_correlate_pairs_by_position() -> None:
    request = {
        "entry": [
            {"fullUrl": "urn:uuid:1", "request": {"method": "POST", "url": "Task"}},
            {"request": {"method": "GET", "url": "Task?x=1"}},
        ]
    }
    response_bundle = {
        "type": "batch-response",
        "entry": [
            {"response": {"status": "201", "location": "https://h/fhir/Task/9/_history/z"}},
            {"response": {"status": "400 Bad Request", "outcome": OUTCOME}},
        ],
    }
    first, second = correlate(request, response_bundle)
    assert (first.full_url, first.status, first.id, first.version_id) == ("urn:uuid:1", 201, "9", None)
    assert not second.ok
    assert second.outcome == OUTCOME
    with pytest.raises(ModelValidationError):
        correlate(request, {"entry": [response_bundle["entry"][0]]})
    with pytest.raises(ModelValidationError):
        correlate({"entry": [request["entry"][0]]}, {"entry": [{"response": {"status": "OK"}}]})


def test_no_bsn_in_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    runner = SyncRunner(lambda r: fhir_response(404, OUTCOME))
    with caplog.at_level(logging.DEBUG, logger="twiin"), pytest.raises(NotFoundError) as info:
        runner("search", "Patient", {"identifier": f"http://fhir.nl/fhir/NamingSystem/bsn|{BSN}"})
    assert caplog.records  # the request and response were logged
    assert BSN not in caplog.text
    assert BSN not in str(info.value)
