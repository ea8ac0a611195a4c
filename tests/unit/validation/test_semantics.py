"""FHIRPath edge semantics (empty collections, all() on empty, ofType), structural rules and the API."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.subscription import Subscription
from fhir.resources.R4B.task import Task

from tests.unit.validation import fixtures as fx
from twiin import naming
from twiin.errors import ConfigurationError, ModelValidationError, ProfileValidationError
from twiin.validation import has_errors, raise_for_errors, validate


def keys(resource: Any, profile: str | None = None) -> set[str]:
    return {i.key for i in validate(resource, profile)}


def params(bundle: Any) -> list[Any]:
    return bundle["entry"][0]["resource"]["parameter"]


# --- empty collections --------------------------------------------------------------------------


def test_missing_status_makes_ct1_empty_which_is_a_violation() -> None:
    task = fx.ct_invited()
    del task["status"]
    assert {"twiin-ct-1", "cardinality"} <= keys(task)


def test_ct6_identifier_without_system_is_empty_hence_warned() -> None:
    task = fx.ct_in_progress()
    task["for"] = {"identifier": {"value": "x"}}
    assert "twiin-ct-6" in keys(task)
    task["for"] = {"identifier": {"system": "https://example.org/other", "value": "x"}}
    assert "twiin-ct-6" not in keys(task)


def test_ct2_only_counts_the_ta_workflow_system() -> None:
    task = fx.ct_invited()
    task["status"] = "rejected"
    task["statusReason"] = {
        "coding": [{"system": "http://example.org/other", "code": "not-selected"}],
        "text": "t",
    }
    assert "twiin-ct-2" not in keys(task)


def test_st1_all_on_empty_passes_but_cardinality_catches_it() -> None:
    bundle = fx.handshake()
    params(bundle)[:] = [p for p in params(bundle) if p["name"] != "subscription"]
    found = keys(bundle)
    assert "twiin-st-1" not in found
    assert "cardinality" in found
    assert "twiin-ntf-2" in found  # empty + '/$status' is empty, so the comparison is not true


def test_st1_value_of_another_type_has_no_reference() -> None:
    bundle = fx.handshake()
    params(bundle)[0] = {"name": "subscription", "valueString": fx.SUB_URL}
    assert "twiin-st-1" in keys(bundle)


def test_ntf1_without_type_parameter_is_all_on_empty() -> None:
    bundle = fx.handshake()
    params(bundle)[:] = [p for p in params(bundle) if p["name"] != "type"]
    found = keys(bundle)
    assert "twiin-ntf-1" not in found
    assert "cardinality" in found


def test_ntf2_missing_request_fails() -> None:
    bundle = fx.heartbeat()
    del bundle["entry"][0]["request"]
    assert "twiin-ntf-2" in keys(bundle)
    bundle = fx.heartbeat()
    bundle["entry"][0]["request"]["method"] = "POST"
    assert "twiin-ntf-2" in keys(bundle)


def test_ntf3_additional_context_needs_focus() -> None:
    bundle = fx.event_empty()
    params(bundle)[-1]["part"].append(
        {"name": "additional-context", "valueReference": {"reference": fx.FOCUS}}
    )
    assert "twiin-ntf-3" in keys(bundle)


def test_ntf3_handshake_without_events_has_one_entry() -> None:
    bundle = fx.handshake()
    assert "twiin-ntf-3" not in keys(bundle)
    bundle["entry"].append({"fullUrl": fx.FOCUS, "request": {"method": "GET", "url": "Task/1"}})
    assert "twiin-ntf-3" in keys(bundle)


def test_st2_event_notification_without_events_fails() -> None:
    bundle = fx.event_empty()
    params(bundle)[:] = [p for p in params(bundle) if p["name"] != "notification-event"]
    assert "twiin-st-2" in keys(bundle)


def test_st5_authorization_parts_allowed_in_query_event_and_event_notification() -> None:
    bundle = fx.event_id_only()
    params(bundle)[-1]["part"].extend(fx.event("42", auth_type="example", auth_value="v")[3:])
    assert "twiin-st-5" not in keys(bundle)


def test_st5_requires_string_not_code() -> None:
    bundle = fx.event_id_only()
    parts = [*fx.event("42", auth_type="example")[3:], {"name": "authorization-value", "valueCode": "v"}]
    params(bundle)[-1]["part"].extend(parts)
    assert "twiin-st-5" in keys(bundle)


def test_sub1_needs_scheme_host_and_no_query() -> None:
    sub = fx.subscription()
    for bad in ("https://", "ftp://example.org/topic", "Task?status=ready", fx.TOPIC + "?x=1"):
        sub["criteria"] = bad
        assert "twiin-sub-1" in keys(sub), bad
    sub["criteria"] = fx.TOPIC + "?x=1"
    assert "twiin-sub-1" in keys(sub)
    sub["criteria"] = "http://example.org/topic"
    assert "twiin-sub-1" not in keys(sub)


def test_wsub1_needs_a_string_value() -> None:
    sub = fx.workflow_subscription()
    ext = sub["_criteria"]["extension"][0]
    ext["valueUri"] = ext.pop("valueString")
    assert "twiin-wsub-1" in keys(sub)


def test_sr1_finds_deep_extension() -> None:
    sr = fx.service_request()
    sr["subject"]["identifier"] = {
        "_value": {"extension": [{"url": naming.DATA_ABSENT_REASON, "valueCode": "masked"}]}
    }
    assert "twiin-sr-1" in keys(sr)


# --- fixed values and cardinalities ---------------------------------------------------------------


def test_acrt_requester_system_fixed_message() -> None:
    task = fx.acrt()
    task["requester"]["identifier"]["system"] = "http://kvk.nl"
    issues = [i for i in validate(task) if i.key == "fixed-value"]
    assert len(issues) == 1
    assert issues[0].severity == "error"
    assert issues[0].path == "Task.requester.identifier.system"
    expect = (
        "is fixed to 'http://fhir.nl/fhir/NamingSystem/ura' in the profile "
        "https://fhir.twiin.nl/ig/workflow/StructureDefinition/twiin-authorization-cancellation-request-task"
    )
    assert expect in issues[0].message


def test_stale_aid1d_acrt_with_healthcare_service_requester_fails_fixed_value_not_aid1() -> None:
    task = fx.acrt()
    task["requester"] = fx.assigned_id(
        "https://fulfiller-a.example.org/healthcareservice", "w", "1", naming.KVK_GF_SYSTEM
    )
    task["requester"] = {"identifier": task["requester"]}
    found = keys(task)
    assert "fixed-value" in found
    assert "twiin-aid-1" not in found


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("intent",), "plan", "fixed-value"),
        (("owner", "type"), "Organization", "fixed-value"),
        (("owner", "identifier", "use"), "usual", "fixed-value"),
        (
            ("owner", "identifier", "assigner", "identifier", "system"),
            "http://other",
            "assigner-identifier-system",
        ),
        (("focus", "reference"), "Patient/1", "type"),
        (("status",), "bogus", "binding"),
    ],
)
def test_coordination_task_structure(path: tuple[str, ...], value: Any, key: str) -> None:
    task = fx.ct_invited()
    node = task
    for name in path[:-1]:
        node = node[name]
    node[path[-1]] = value
    issues = [i for i in validate(task) if i.key == key]
    assert issues
    assert issues[0].severity == "error"


@pytest.mark.parametrize("field", ["authoredOn", "requester", "owner", "focus", "code", "identifier"])
def test_coordination_task_required_elements(field: str) -> None:
    task = fx.ct_invited()
    del task[field]
    assert "cardinality" in keys(task)


def test_type_of_work_exactly_once() -> None:
    task = fx.ct_invited()
    task["input"] = []
    assert "cardinality" in keys(task)
    task["input"] = [fx.type_of_work(), fx.type_of_work()]
    assert "cardinality" in keys(task)
    bad = fx.type_of_work()
    bad["valueString"] = bad.pop("valueCodeableConcept")
    task["input"] = [bad]
    assert "type" in keys(task)


def test_crt_code_fixed_to_abort_and_focus_is_task() -> None:
    task = fx.crt()
    task["code"] = {"coding": [{"system": naming.HL7_TASK_CODE_SYSTEM, "code": "fulfill"}]}
    task["focus"] = {"reference": fx.SERVICE_REQUEST}
    assert {"fixed-value", "type"} <= keys(task)


def test_subscription_channel_rules() -> None:
    sub = fx.subscription()
    sub["channel"]["type"] = "websocket"
    sub["channel"]["payload"] = "text/plain"
    sub["channel"]["_payload"]["extension"][0]["valueCode"] = "bogus"
    found = {(i.key, i.path) for i in validate(sub)}
    assert ("fixed-value", "Subscription.channel.type") in found
    assert ("binding", "Subscription.channel.payload") in found
    assert ("binding", "Subscription.channel.payload.extension:content") in found
    del sub["channel"]["_payload"]
    del sub["channel"]["endpoint"]
    paths = {i.path for i in validate(sub) if i.key == "cardinality"}
    assert {"Subscription.channel.payload.extension:content", "Subscription.channel.endpoint"} <= paths


def test_subscription_heartbeat_must_be_unsigned_int() -> None:
    sub = fx.subscription(heartbeat=-1)
    assert "type" in keys(sub)


def test_workflow_subscription_rules() -> None:
    sub = fx.workflow_subscription()
    sub["channel"]["_payload"]["extension"][0]["valueCode"] = "full-resource"
    del sub["channel"]["extension"]
    found = {(i.key, i.path) for i in validate(sub)}
    assert ("fixed-value", "Subscription.channel.payload.extension:content") in found
    assert ("cardinality", "Subscription.channel.extension:heartbeatPeriod") in found
    sub = fx.workflow_subscription()
    del sub["_criteria"]
    assert ("cardinality", "Subscription.criteria.extension:filterCriteria") in {
        (i.key, i.path) for i in validate(sub)
    }


def test_notification_bundle_type_and_first_entry() -> None:
    bundle = fx.heartbeat()
    bundle["type"] = "searchset"
    assert "fixed-value" in keys(bundle)
    bundle = fx.heartbeat()
    bundle["entry"][0]["resource"] = {"resourceType": "Task"}
    assert "type" in keys(bundle)


def test_nested_full_resource_entry_is_checked_against_its_profile() -> None:
    bundle = fx.event_full_resource()
    task = fx.ct_invited()
    task["status"] = "on-hold"
    bundle["entry"][1]["resource"] = task
    issues = [i for i in validate(bundle) if i.key == "twiin-ct-1"]
    assert issues
    assert issues[0].path.startswith("Bundle.entry[1].resource.")


# --- API -------------------------------------------------------------------------------------


def test_models_are_accepted() -> None:
    task = fx.ct_invited()
    task["status"] = "on-hold"
    model = Task.model_validate(task)
    assert keys(model) == keys(task) == {"twiin-ct-1"}
    sub = fx.subscription()
    sub["criteria"] = "Task?status=ready"
    assert keys(Subscription.model_validate(sub)) == {"twiin-sub-1"}


def test_explicit_profile_overrides_meta() -> None:
    sub = fx.workflow_subscription()
    del sub["meta"]
    assert validate(sub) == []
    sub["_criteria"]["extension"][0]["valueString"] = "owner=x"
    assert keys(sub, naming.SD_WORKFLOW_SUBSCRIPTION) == {"twiin-wsub-1"}
    assert keys(sub, naming.SD_TWIIN_SUBSCRIPTION) == set()


def test_versioned_meta_profile() -> None:
    task = fx.crt()
    task["meta"]["profile"] = [naming.SD_CANCELLATION_REQUEST_TASK + "|0.3.0"]
    task["status"] = "completed"
    assert "twiin-crt-1" in keys(task)


def test_unknown_profile_and_wrong_resource_type() -> None:
    with pytest.raises(ConfigurationError):
        validate(fx.crt(), "https://example.org/other")
    issues = validate(fx.crt(), naming.SD_TWIIN_SUBSCRIPTION)
    assert [i.key for i in issues] == ["resource-type"]
    with pytest.raises(ModelValidationError):
        validate(["not", "a", "resource"])


def test_raise_for_errors_and_has_errors() -> None:
    warn_only = fx.ct_invited()
    warn_only["status"] = "rejected"
    issues = validate(warn_only)
    assert issues
    assert not has_errors(issues)
    raise_for_errors(issues)
    broken = fx.crt()
    broken["status"] = "completed"
    issues = validate(broken)
    assert has_errors(issues)
    with pytest.raises(ProfileValidationError) as info:
        raise_for_errors(issues)
    assert "twiin-crt-1" in str(info.value)
    assert info.value.issues == issues


def test_no_bsn_in_messages() -> None:
    task = fx.ct_in_progress()
    task["for"] = {"identifier": {"system": naming.BSN_SYSTEM, "value": "999999151"}}
    task["status"] = "on-hold"
    task["intent"] = "999999151"
    issues = validate(task)
    assert has_errors(issues)
    with pytest.raises(ProfileValidationError) as info:
        raise_for_errors(issues)
    text = " ".join(str(i) + repr(i) for i in issues) + str(info.value) + repr(info.value)
    assert "999999151" not in text
