"""Mitz OTV subscriptions (create) and consent notifications (parse, XML and JSON)."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from twiin import errors
from twiin.consent import DataCategory, MitzSubscriptions, Purpose, SubscriptionRequest
from twiin.identifiers import Bsn, ProviderType, Ura
from twiin.serving import IncomingRequest

BSN = "999999151"


def _request(**kw: Any) -> SubscriptionRequest:
    values: dict[str, Any] = {
        "patient": Bsn(BSN),
        "holder_ura": Ura("1234567"),
        "holder_type": ProviderType("Z3"),
        "notify_url": "https://gtk.example/otv/notify",
        "gateway_system": "urn:oid:2.16.840.1.113883.2.4.6.6.1",
        "source_system": "urn:oid:2.16.840.1.113883.2.4.6.6.90000017",
    }
    values.update(kw)
    return SubscriptionRequest(**values)


def test_subscription_resource() -> None:
    sub = MitzSubscriptions.build(_request(birth_date=date(2012, 3, 7)))
    assert sub["resourceType"] == "Subscription"
    assert sub["status"] == "requested"
    assert sub["reason"] == "OTV"
    assert sub["criteria"] == f"Consent?_query=otv&patientid={BSN}&providerid=01234567&providertype=Z3"
    assert sub["channel"] == {
        "type": "rest-hook",
        "endpoint": "https://gtk.example/otv/notify",
        "payload": "application/fhir+json",
    }
    assert sub["extension"] == [
        {"url": "http://fhir.nl/StructureDefinition/Patient.birthDate", "valueDate": "2012-03-07"},
        {
            "url": "http://fhir.nl/StructureDefinition/GatewaySystem",
            "valueOid": "urn:oid:2.16.840.1.113883.2.4.6.6.1",
        },
        {
            "url": "http://fhir.nl/StructureDefinition/SourceSystem",
            "valueOid": "urn:oid:2.16.840.1.113883.2.4.6.6.90000017",
        },
    ]


def test_subscription_without_birth_date_and_xml_payload() -> None:
    sub = MitzSubscriptions.build(_request(payload="application/fhir+xml"))
    assert [e["url"].rsplit("/", 1)[1] for e in sub["extension"]] == ["GatewaySystem", "SourceSystem"]
    assert sub["channel"]["payload"] == "application/fhir+xml"
    headers, body = MitzSubscriptions.encode(_request())
    assert headers["Content-Type"] == "application/fhir+json"
    assert json.loads(body)["reason"] == "OTV"


def test_subscription_validates_its_inputs() -> None:
    with pytest.raises(errors.InvalidIdentifier):
        _request(gateway_system="2.16.840.1")
    with pytest.raises(ValueError):
        _request(payload="text/plain")


@pytest.mark.parametrize("status", [201, 202])
def test_created_or_accepted(status: int) -> None:
    receipt = MitzSubscriptions.parse_created(
        status, {"Location": "https://mitz/abonnementen/fhir/Subscription/42/_history/1"}
    )
    assert receipt.status == status
    assert receipt.id == "42"


def test_accepted_without_location() -> None:
    assert MitzSubscriptions.parse_created(202, {}).id is None


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, errors.SubscriptionInvalid),
        (401, errors.SubscriptionUnauthorized),
        (404, errors.SubscriptionEndpointNotFound),
        (422, errors.SubscriptionRuleViolation),
        (429, errors.SubscriptionThrottled),
        (500, errors.MitzSubscriptionError),
        (200, errors.MitzSubscriptionError),
    ],
)
def test_refusals_are_typed(status: int, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        MitzSubscriptions.parse_created(status, {"Retry-After": "12"})
    assert info.value.status == status  # type: ignore[attr-defined]
    if status == 429:
        assert info.value.retry_after == 12.0  # type: ignore[attr-defined]


# -- notifications ------------------------------------------------------------------------------------

PATIENT_URL = "urn:uuid:6a1f0d0e-0000-4000-8000-000000000001"
ORG_URL = "urn:uuid:6a1f0d0e-0000-4000-8000-000000000002"


def _consent(
    cid: str,
    *,
    active: bool,
    permit: bool,
    category: str = "GGC002",
    consulting: tuple[str, ...] = ("RPZAC005",),
) -> dict[str, Any]:
    consent: dict[str, Any] = {
        "resourceType": "Consent",
        "id": cid,
        "meta": {"profile": ["http://vzvz.nl/fhir/StructureDefinition/Consent-Mitz-Notify|3.8.0"]},
        "extension": [
            {
                "url": "http://fhir.nl/StructureDefinition/OTV-ProviderCategory",
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": "http://fhir.nl/otv/CodeSystem/raadplegende-zorgaanbiedercategorie",
                            "code": c,
                        }
                    ]
                },
            }
            for c in consulting
        ],
        "status": "active" if active else "inactive",
        "scope": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
            ]
        },
        "category": [
            {"coding": [{"system": "http://fhir.nl/otv/CodeSystem/gegevenscategorie", "code": category}]}
        ],
        "patient": {"reference": PATIENT_URL},
        "dateTime": "2026-11-18T10:51:16Z",
        "provision": {
            "actor": [
                {
                    "role": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": "CST",
                            }
                        ]
                    },
                    "reference": {"reference": ORG_URL},
                }
            ],
            "purpose": [{"system": "http://hl7.org/fhir/v3/ActReason", "code": "TREAT"}],
        },
    }
    if permit:
        consent["provision"]["type"] = "permit"
    return consent


def bundle() -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:c1",
                "resource": _consent("c1", active=True, permit=True),
                "request": {"method": "POST", "url": "Consent"},
            },
            {
                "fullUrl": "urn:uuid:c2",
                "resource": _consent(
                    "c2", active=False, permit=False, category="GGC013", consulting=("RPZAC001", "RPZAC104")
                ),
                "request": {"method": "POST", "url": "Consent"},
            },
            {
                "fullUrl": PATIENT_URL,
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": BSN}],
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": ORG_URL,
                "resource": {
                    "resourceType": "Organization",
                    "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/ura", "value": "00000659"}],
                    "type": [
                        {
                            "coding": [
                                {
                                    "system": "http://nictiz.nl/fhir/NamingSystem/organization-type",
                                    "code": "Z3",
                                }
                            ]
                        }
                    ],
                },
                "request": {"method": "POST", "url": "Organization"},
            },
        ],
    }


def _to_xml(value: Any, name: str, parent: etree._Element | None = None) -> etree._Element:
    """FHIR JSON -> FHIR XML, enough for the notification shapes above."""
    ns = "http://hl7.org/fhir"
    el = (
        etree.Element(f"{{{ns}}}{name}", nsmap={None: ns})
        if parent is None
        else etree.SubElement(parent, f"{{{ns}}}{name}")
    )  # type: ignore[dict-item]
    for key, item in value.items():
        if key == "resourceType":
            continue
        for v in item if isinstance(item, list) else [item]:
            if key == "resource":
                holder = etree.SubElement(el, f"{{{ns}}}resource")
                _to_xml(v, v["resourceType"], holder)
            elif isinstance(v, dict):
                child = _to_xml({k: x for k, x in v.items() if k != "url"}, key, el)
                if "url" in v:
                    child.set("url", v["url"])
            else:
                etree.SubElement(el, f"{{{ns}}}{key}").set("value", str(v))
    return el


def _check(notes: list[Any]) -> None:
    assert len(notes) == 2
    first, second = notes
    assert first.consent_id == "c1"
    assert first.active
    assert first.permit
    assert first.category is DataCategory.GGC002
    assert first.consulting_categories == ("RPZAC005",)
    assert first.patient == Bsn(BSN)
    assert first.holder_ura == Ura("659")
    assert first.holder_type == ProviderType("Z3")
    assert first.purpose is Purpose.TREAT
    assert not second.active
    assert not second.permit
    assert second.category is DataCategory.GGC013
    assert second.consulting_categories == ("RPZAC001", "RPZAC104")
    assert BSN not in repr(first)


def test_notification_json() -> None:
    _check(MitzSubscriptions.parse_notification(json.dumps(bundle()).encode(), "application/fhir+json"))


def test_notification_xml() -> None:
    body = etree.tostring(_to_xml(bundle(), "Bundle"), xml_declaration=True, encoding="UTF-8")
    _check(MitzSubscriptions.parse_notification(body, "application/fhir+xml; charset=utf-8"))


def _broken(mutate) -> bytes:  # type: ignore[no-untyped-def]
    data = bundle()
    mutate(data)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.update(type="searchset"),
        lambda b: b.update(entry=b["entry"][2:]),
        lambda b: b["entry"][0]["resource"].update(status="draft"),
        lambda b: b["entry"][0]["resource"].update(category=[]),
        lambda b: b["entry"][0]["resource"]["category"][0]["coding"][0].update(code="GGC999"),
        lambda b: b["entry"][0]["resource"].update(patient={"reference": "urn:uuid:nowhere"}),
        lambda b: b["entry"][0]["resource"]["provision"].update(actor=[]),
        lambda b: b["entry"][2]["resource"].update(identifier=[]),
        lambda b: b["entry"][2]["resource"]["identifier"][0].update(value="123456789"),
        lambda b: b["entry"][3]["resource"].update(identifier=[{"system": "x", "value": "1"}]),
        lambda b: b["entry"][3]["resource"]["identifier"][0].update(value="not-a-ura"),
        lambda b: b["entry"][1].pop("resource"),
    ],
)
def test_invalid_notifications(mutate) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.ConsentNotificationError) as info:
        MitzSubscriptions.parse_notification(_broken(mutate), "application/fhir+json")
    assert BSN not in str(info.value)


@pytest.mark.parametrize("body", [b"", b"[]", b"{", b'{"resourceType": "Patient"}', b"[" * 100_000])
def test_not_a_bundle(body: bytes) -> None:
    with pytest.raises(errors.ConsentNotificationError):
        MitzSubscriptions.parse_notification(body, "application/fhir+json")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(bundle())[1:]
WEIRD = (
    st.none() | st.integers() | st.text(max_size=5) | st.just([]) | st.just({}) | st.just([{}]) | st.just(BSN)
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATHS), WEIRD)
def test_any_field_replaced_gives_twiin_error_or_notifications(path: tuple[Any, ...], value: Any) -> None:
    data = copy.deepcopy(bundle())
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        notes = MitzSubscriptions.parse_notification(json.dumps(data).encode(), "application/fhir+json")
    except errors.TwiinError:
        return
    assert all(isinstance(n.category, DataCategory) for n in notes)


def test_notification_server_block() -> None:
    received: list[Any] = []
    ok = MitzSubscriptions.handle_notification(
        IncomingRequest(
            "POST",
            "https://gtk/otv/notify",
            {"Content-Type": "application/fhir+json"},
            json.dumps(bundle()).encode(),
        ),
        received.extend,
    )
    assert ok.status == 204
    assert len(received) == 2
    bad = MitzSubscriptions.handle_notification(
        IncomingRequest(
            "POST", "https://gtk/otv/notify", {"Content-Type": "application/fhir+xml"}, b"<!DOCTYPE x><x/>"
        ),
        received.extend,
    )
    assert bad.status == 400
    assert len(received) == 2


VECTORS = Path("/work/shared/vectors/mitz")


@pytest.mark.skipif(
    not (VECTORS / "example_notification_bundle.xml").exists(), reason="public Mitz vectors not present"
)
def test_public_notification_example() -> None:
    notes = MitzSubscriptions.parse_notification(
        (VECTORS / "example_notification_bundle.xml").read_bytes(), "application/fhir+xml"
    )
    assert [(n.active, n.permit, n.category) for n in notes] == [
        (True, True, DataCategory.GGC002),
        (False, False, DataCategory.GGC002),
    ]
    assert notes[0].consulting_categories == ("RPZAC005",)
    assert len(notes[1].consulting_categories) == 6
    assert notes[0].holder_ura == Ura("00000659")
    assert notes[0].patient == Bsn("900186021")
    assert notes[0].date_time == "2024-11-18T10:51:16.8967927Z"


@pytest.mark.skipif(
    not (VECTORS / "example_subscription.xml").exists(), reason="public Mitz vectors not present"
)
def test_our_subscription_matches_the_public_example_shape() -> None:
    ns = {"f": "http://hl7.org/fhir"}
    example = etree.parse(str(VECTORS / "example_subscription.xml")).getroot()
    ours = MitzSubscriptions.build(_request(birth_date=date(2012, 3, 7), payload="application/fhir+xml"))
    assert [e.get("url") for e in example.findall("f:extension", ns)] == [e["url"] for e in ours["extension"]]
    assert example.find("f:status", ns).get("value") == ours["status"]
    assert example.find("f:reason", ns).get("value") == ours["reason"]
    criteria = example.find("f:criteria", ns).get("value")
    assert criteria.split("?")[0] == ours["criteria"].split("?")[0]
    assert [p.split("=")[0] for p in criteria.split("?")[1].split("&")] == [
        p.split("=")[0] for p in ours["criteria"].split("?")[1].split("&")
    ]
    assert example.find("f:channel/f:type", ns).get("value") == ours["channel"]["type"]
