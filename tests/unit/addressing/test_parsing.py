"""Reading mCSD resources, payload types and the endpoint address policy."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twiin.addressing import EndpointPolicy, PayloadType, ResolvedEndpoint, SqliteDirectoryStore, SyncOptions
from twiin.addressing import payload_types as pt
from twiin.addressing.mcsd import (
    Malformed,
    endpoint_record,
    linked_organizations,
    org_record,
    parse_instant,
    reference_id,
    service_record,
)
from twiin.addressing.store import Source, SourceKind
from twiin.addressing.sync import drive
from twiin.addressing.sync_core import SyncEngine, screen
from twiin.errors import TwiinError, UnsafeEndpoint
from twiin.fhir_version import FhirVersion

from . import mcsd_fixtures as fx

BASE = "https://dir.test/fhir"


# --- payload types -------------------------------------------------------------------------


def test_payload_type_parse_and_match() -> None:
    assert PayloadType.parse("Twiin-TA-notification") is pt.TWIIN_TA_NOTIFICATION
    assert PayloadType.parse(pt.BGZ_SERVER.to_token()) is pt.BGZ_SERVER
    assert PayloadType.parse("urn:x|custom") == PayloadType("custom", "urn:x")
    assert pt.TWIIN_TA_NOTIFICATION.matches(None, "Twiin-TA-notification")
    assert pt.TWIIN_TA_NOTIFICATION.matches(pt.GF_CAPABILITIES_SYSTEM, "Twiin-TA-notification")
    assert not pt.TWIIN_TA_NOTIFICATION.matches("urn:other", "Twiin-TA-notification")
    assert not pt.TWIIN_TA_NOTIFICATION.matches(None, "eOverdracht-notification")
    assert pt.BGZ_SERVER.fhir_version is FhirVersion.STU3
    assert pt.ADMIN_DIRECTORY.code.endswith("nl-gf-admin-directory-update-client")
    assert len({p.code for p in pt.ALL}) == len(pt.ALL)
    with pytest.raises(ValueError, match="non-empty"):
        PayloadType.parse("  ")


def test_payload_type_short_names() -> None:
    assert PayloadType.parse("bgz-server") is pt.BGZ_SERVER
    assert PayloadType.parse("Twiin-TA-Notification") is pt.TWIIN_TA_NOTIFICATION  # a name, any case
    assert PayloadType.parse("urn:x|bgz-server") == PayloadType(
        "bgz-server", "urn:x"
    )  # with a system: a code
    assert set(pt.NAMES.values()) == set(pt.ALL)


# --- records ---------------------------------------------------------------------------------


def test_org_record_reads_ura_part_of_and_endpoints() -> None:
    org = org_record(BASE, fx.organization("o1", "Org", ura="1234", endpoints=("e1", "e2", "e1")), BASE)
    assert (org.ura, org.name, org.part_of, org.endpoints, org.active) == (
        "00001234",
        "Org",
        None,
        ("e1", "e2"),
        True,
    )
    dept = org_record(BASE, fx.organization("d1", "Dept", part_of="o1", active=False), BASE)
    assert (dept.ura, dept.part_of, dept.active) == (None, "o1", False)
    oid = {
        "resourceType": "Organization",
        "id": "x",
        "identifier": [{"system": "urn:oid:2.16.528.1.1007.3.3", "value": "7"}],
    }
    assert org_record(BASE, oid).ura == "00000007"  # the minvws build's URA system


def test_references() -> None:
    assert reference_id({"reference": "Organization/a1"}, "Organization") == "a1"
    assert reference_id({"reference": f"{BASE}/Organization/a1"}, "Organization", BASE) == "a1"
    assert reference_id({"reference": "Organization/a1/_history/3"}, "Organization") == "a1"
    assert (
        reference_id({"reference": "https://other.test/fhir/Organization/a1"}, "Organization", BASE) is None
    )
    assert reference_id({"reference": "Endpoint/a1"}, "Organization") is None
    assert reference_id({"reference": "urn:uuid:123"}, "Organization") is None
    assert reference_id({"reference": "#contained"}, "Organization") is None
    assert reference_id({"identifier": {"system": fx.URA, "value": "1"}}, "Organization") is None
    assert reference_id("Organization/a1", "Organization") is None
    assert reference_id({"reference": "Organization/bad id"}, "Organization") is None


def test_endpoint_fhir_version_sources() -> None:
    stated = endpoint_record(
        BASE, fx.endpoint("e", "https://a", pt.BGZ_SERVER, mime="application/fhir+json; fhirVersion=4.0")
    )
    assert stated.fhir_version is FhirVersion.R4  # stated beats the capability's version
    implied = endpoint_record(BASE, fx.endpoint("e", "https://a", pt.BGZ_SERVER))
    assert implied.fhir_version is FhirVersion.STU3
    ext = fx.endpoint("e", "https://a", pt.TWIIN_TA_NOTIFICATION)
    ext["extension"] = [
        {"url": "http://hl7.org/fhir/StructureDefinition/endpoint-fhir-version", "valueCode": "3.0.2"}
    ]
    assert endpoint_record(BASE, ext).fhir_version is FhirVersion.STU3
    assert endpoint_record(BASE, fx.endpoint("e", "https://a", pt.TWIIN_TA_NOTIFICATION)).fhir_version is None
    mixed = endpoint_record(BASE, fx.endpoint("e", "https://a", pt.BGZ_SERVER, pt.ACP_SERVER))
    assert mixed.fhir_version is None  # capabilities disagree: unknown


def test_usable_endpoints_only() -> None:
    assert endpoint_record(BASE, fx.endpoint("e", "https://a", pt.ANY)).usable
    assert not endpoint_record(BASE, fx.endpoint("e", "https://a", pt.ANY, status="off")).usable
    assert not endpoint_record(BASE, fx.endpoint("e", "https://a", pt.ANY, connection="dicom-wado-rs")).usable
    assert not endpoint_record(BASE, fx.endpoint("e", "", pt.ANY)).usable


def test_linked_organizations_and_instants() -> None:
    assert linked_organizations(fx.location("l", "o1")) == ("o1",)
    assert linked_organizations(fx.practitioner_role("r", "o2", "p")) == ("o2",)
    assert linked_organizations(fx.practitioner("p")) == ()
    assert parse_instant("2025-02-07T13:28:17.239+02:00") == "2025-02-07T11:28:17.239000+00:00"
    assert parse_instant("2025-02-07T11:28:17Z") == "2025-02-07T11:28:17.000000+00:00"
    assert parse_instant("yesterday") is None
    assert parse_instant(17) is None


def test_screen_rules() -> None:
    provider = Source("https://p.test/fhir", SourceKind.PROVIDER, "11111111")
    root = Source("https://lrza.test/fhir", SourceKind.ROOT)
    query = Source("https://qd.test/fhir", SourceKind.QUERY)
    assert screen(provider, fx.organization("o", "x", ura="11111111")) is None
    assert "claims URA 22222222" in (screen(provider, fx.organization("o", "x", ura="22222222")) or "")
    assert screen(provider, fx.organization("o", "x", part_of="p")) is None
    assert "partOf" in (screen(root, fx.organization("o", "x")) or "")
    assert screen(query, fx.organization("o", "x")) is None
    bad = fx.organization("o", "x")
    bad["identifier"] = [{"system": fx.URA, "value": "not-a-ura"}]
    assert "invalid URA" in (screen(provider, bad) or "")
    assert screen(provider, fx.endpoint("e", "https://a", pt.ANY)) is None


# --- outside input never escapes as a bare error ---------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        "id",
        "identifier",
        "name",
        "partOf",
        "endpoint",
        "providedBy",
        "active",
        "status",
        "address",
        "payloadType",
        "connectionType",
        "payloadMimeType",
        "extension",
        "meta",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, json_values, max_size=8))
def test_records_only_raise_malformed(data: dict[str, Any]) -> None:
    for reader in (org_record, service_record):
        try:
            reader(BASE, data)  # type: ignore[operator]
        except Malformed:
            pass
    try:
        endpoint_record(BASE, data)
    except Malformed:
        pass


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        json_values,
        st.dictionaries(st.sampled_from(["resourceType", "entry", "link", "meta", "type"]), json_values),
    )
)
def test_hostile_bundles_give_typed_errors_or_rejections(payload: Any) -> None:
    if isinstance(payload, dict):
        payload.setdefault("resourceType", "Bundle")
        payload.pop("link", None)
    store = SqliteDirectoryStore.in_memory()
    engine = SyncEngine(
        store, [Source("https://qd.test/fhir")], SyncOptions(resource_types=("Organization",))
    )
    try:
        report = drive(engine.run(), lambda url: payload)
    except TwiinError:
        return
    finally:
        store.close()
    assert report.sources


# --- endpoint policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://a.test/fhir",
        "ftp://a.test/fhir",
        "https:///fhir",
        "https://user:pw@a.test/fhir",
        "https://a.test/fhir#frag",
        "https://a.test/fh ir",
        "https://a.test/\x00",
        "https://a.test:99999/fhir",
        "javascript:alert(1)",
        "",
        None,
        "https://a.test/" + "x" * 3000,
    ],
)
def test_policy_refuses(url: object) -> None:
    with pytest.raises(UnsafeEndpoint):
        EndpointPolicy().check(url)


def test_policy_options() -> None:
    assert EndpointPolicy().check("https://a.test/fhir") == "https://a.test/fhir"
    assert EndpointPolicy.for_tests().check("http://127.0.0.1:8080/fhir")
    with pytest.raises(UnsafeEndpoint, match="loopback"):
        EndpointPolicy(allow_loopback=False).check("https://127.0.0.1/fhir")
    with pytest.raises(UnsafeEndpoint, match="not allowed"):
        EndpointPolicy(allowed_hosts=frozenset({"b.test"})).check("https://a.test/fhir")
    with pytest.raises(UnsafeEndpoint) as info:
        EndpointPolicy().check("http://a.test/fhir?patient=999999151&token=abc")
    assert "999999151" not in str(info.value)
    assert "abc" not in str(info.value)


def test_resolved_endpoint_round_trips() -> None:
    from twiin.addressing import CareUnit, OrganizationRef, UnitKind
    from twiin.identifiers import Ura

    endpoint = ResolvedEndpoint(
        "https://a.test/fhir",
        OrganizationRef(Ura("1"), "Org"),
        (pt.BGZ_SERVER, PayloadType("x")),
        FhirVersion.STU3,
        unit=CareUnit(UnitKind.HEALTHCARE_SERVICE, "s1", "Svc"),
        endpoint_id="e1",
        source="src",
    )
    assert ResolvedEndpoint.from_dict(endpoint.to_dict()) == endpoint
