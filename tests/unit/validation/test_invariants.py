"""Every Twiin invariant: the positive examples pass, each negative of spec §7.2/§7.3 fails with its severity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.validation import fixtures as fx
from twiin import naming
from twiin.validation import INVARIANTS, validate

KVK = naming.KVK_GF_SYSTEM
DAR = {"url": naming.DATA_ABSENT_REASON, "valueCode": "masked"}

POSITIVE = [
    fx.ct_invited,
    fx.ct_selected,
    fx.ct_not_selected,
    fx.ct_in_progress,
    fx.crt,
    fx.acrt,
    fx.service_request,
    fx.subscription,
    fx.workflow_subscription,
    fx.handshake,
    fx.heartbeat,
    fx.event_id_only,
    fx.event_full_resource,
    fx.event_empty,
]


@pytest.mark.parametrize("make", POSITIVE, ids=lambda f: f.__name__)
def test_positive_examples_have_no_issues(make: Callable[[], Any]) -> None:
    assert validate(make()) == []


def test_retired_subscription_is_valid() -> None:
    assert validate(fx.subscription(status="off")) == []


def test_status_and_events_answers_have_valid_status_parameters() -> None:
    assert validate(fx.status_response()["entry"][0]["resource"]) == []
    assert validate(fx.events_response_auth()["entry"][0]["resource"]) == []


# --- negatives: (base fixture, mutation, key, severity) ----------------------------------------


def _set(**fields: Any) -> Callable[[Any], None]:
    def apply(res: Any) -> None:
        res.update(fields)

    return apply


def _ct_bsn(res: Any) -> None:
    res["for"] = {"identifier": {"system": naming.BSN_SYSTEM, "value": "999999151"}}


def _owner_kvk(res: Any) -> None:
    res["owner"]["identifier"]["assigner"]["identifier"]["system"] = KVK


def _location_kvk(res: Any) -> None:
    res["location"]["identifier"]["assigner"]["identifier"]["system"] = KVK


def _sr_masked(res: Any) -> None:
    res["subject"]["extension"] = [DAR]


def _sr_masked_primitive(res: Any) -> None:
    res["subject"] = {"_reference": {"extension": [DAR]}}


def _filter(value: str) -> Callable[[Any], None]:
    def apply(res: Any) -> None:
        res["_criteria"]["extension"][0]["valueString"] = value

    return apply


def _status(bundle: Any) -> Any:
    return bundle["entry"][0]["resource"]


def _param(bundle: Any, name: str) -> Any:
    return next(p for p in _status(bundle)["parameter"] if p["name"] == name)


def _event_parts(bundle: Any) -> list[Any]:
    return _param(bundle, "notification-event")["part"]


def _ntf1(b: Any) -> None:
    _param(b, "type")["valueCode"] = "query-status"


def _ntf2(b: Any) -> None:
    b["entry"][0]["request"]["url"] = "https://sender.example.org/fhir/Subscription/other/$status"


def _ntf3(b: Any) -> None:
    b["entry"].append({"fullUrl": fx.FOCUS, "request": {"method": "PUT", "url": "Task/x"}})


def _ntf4(b: Any) -> None:
    del b["entry"][1]["fullUrl"]


def _st1(b: Any) -> None:
    _param(b, "subscription")["valueReference"]["reference"] = "Subscription/7f3e9a2c"
    b["entry"][0]["request"]["url"] = "Subscription/7f3e9a2c/$status"


def _st2(b: Any) -> None:
    parts = _event_parts(b)
    parts[:] = [p for p in parts if p["name"] != "timestamp"]


def _st3(b: Any) -> None:
    params = _status(b)["parameter"]
    params[:] = [p for p in params if p["name"] != "events-since-subscription-start"]


def _st4(b: Any) -> None:
    next(p for p in _event_parts(b) if p["name"] == "focus")["valueReference"]["reference"] = "Task/5f2f"


def _st5(b: Any) -> None:
    _event_parts(b).extend(fx.event("42", auth_type="example")[2:])


def _st5c(b: Any) -> None:
    _event_parts(b).extend(
        [
            {"name": "authorization-type", "valueString": "example"},
            {"name": "authorization-value", "valueString": "v"},
        ]
    )


def _st5d(b: Any) -> None:
    _event_parts(b).extend(
        [*fx.event("42", auth_type="example")[3:], {"name": "authorization-value", "valueInteger": 7}]
    )


def _st5_twice(b: Any) -> None:
    _event_parts(b).extend(fx.event("42", auth_type="a", auth_value="b")[3:] * 2)


def _st5b() -> Any:
    return fx.status_parameters(
        "query-status",
        events=[fx.event("42", auth_type="example", auth_value="Zk3p9QxT2mVb7LcW8nRy")],
        since="44",
    )


NEGATIVE: list[tuple[str, Callable[[], Any], Callable[[Any], None] | None, str, str]] = [
    ("twiin-ct-1", fx.ct_invited, _set(status="on-hold"), "twiin-ct-1", "error"),
    ("twiin-ct-1-draft", fx.ct_invited, _set(status="draft"), "twiin-ct-1", "error"),
    ("twiin-ct-2", fx.ct_not_selected, _set(status="rejected"), "twiin-ct-2", "error"),
    ("twiin-ct-3", fx.ct_selected, lambda r: r.pop("for"), "twiin-ct-3", "error"),
    (
        "twiin-ct-3-code",
        fx.ct_selected,
        _set(code={"coding": [{"system": fx.TASK_CODE, "code": "abort"}]}),
        "twiin-ct-3",
        "error",
    ),
    ("twiin-ct-4", fx.ct_invited, _set(**{"for": {"reference": fx.PATIENT}}), "twiin-ct-4", "error"),
    ("twiin-ct-5", fx.ct_invited, _set(status="rejected"), "twiin-ct-5", "warning"),
    ("twiin-ct-6", fx.ct_in_progress, _ct_bsn, "twiin-ct-6", "warning"),
    ("twiin-crt-1", fx.crt, _set(status="completed"), "twiin-crt-1", "error"),
    ("twiin-acrt-1", fx.acrt, _set(status="cancelled"), "twiin-acrt-1", "error"),
    ("twiin-aid-1", fx.ct_invited, _owner_kvk, "twiin-aid-1", "error"),
    ("twiin-aid-1b", fx.ct_invited, _location_kvk, "twiin-aid-1", "error"),
    ("twiin-aid-1c", fx.crt, _owner_kvk, "twiin-aid-1", "error"),
    ("twiin-sr-1", fx.service_request, _sr_masked, "twiin-sr-1", "error"),
    ("twiin-sr-1b", fx.service_request, _sr_masked_primitive, "twiin-sr-1", "error"),
    (
        "twiin-task-1",
        fx.ct_invited,
        _set(statusReason={"coding": [{"system": "http://example.org/reason", "code": "no-capacity"}]}),
        "twiin-task-1",
        "warning",
    ),
    (
        "twiin-task-1b",
        fx.crt,
        _set(statusReason={"coding": [{"system": "http://example.org/reason", "code": "work-continues"}]}),
        "twiin-task-1",
        "warning",
    ),
    (
        "twiin-task-1c",
        fx.acrt,
        _set(statusReason={"coding": [{"system": "http://example.org/reason", "code": "contraindication"}]}),
        "twiin-task-1",
        "warning",
    ),
    (
        "twiin-wsub-1",
        fx.workflow_subscription,
        _filter("owner=https://fulfiller-a.example.org/healthcareservice|wondzorg-thuis"),
        "twiin-wsub-1",
        "error",
    ),
    (
        "twiin-wsub-1b",
        fx.workflow_subscription,
        _filter("owner:identifier=wondzorg-thuis"),
        "twiin-wsub-1",
        "error",
    ),
    (
        "twiin-wsub-1-space",
        fx.workflow_subscription,
        _filter("owner:identifier=a b|c"),
        "twiin-wsub-1",
        "error",
    ),
    ("twiin-sub-1", fx.subscription, _set(criteria="Task?status=ready"), "twiin-sub-1", "warning"),
    ("twiin-ntf-1", fx.handshake, _ntf1, "twiin-ntf-1", "error"),
    ("twiin-ntf-2", fx.handshake, _ntf2, "twiin-ntf-2", "error"),
    ("twiin-ntf-3", fx.event_empty, _ntf3, "twiin-ntf-3", "error"),
    ("twiin-ntf-4", fx.event_id_only, _ntf4, "twiin-ntf-4", "error"),
    ("twiin-st-1", fx.handshake, _st1, "twiin-st-1", "error"),
    ("twiin-st-2", fx.event_id_only, _st2, "twiin-st-2", "error"),
    ("twiin-st-3", fx.heartbeat, _st3, "twiin-st-3", "error"),
    ("twiin-st-4", fx.event_id_only, _st4, "twiin-st-4", "warning"),
    ("twiin-st-5", fx.event_id_only, _st5, "twiin-st-5", "error"),
    ("twiin-st-5b", _st5b, None, "twiin-st-5", "error"),
    ("twiin-st-5c", fx.event_id_only, _st5c, "twiin-st-5", "error"),
    ("twiin-st-5d", fx.event_id_only, _st5d, "twiin-st-5", "error"),
    ("twiin-st-5-twice", fx.event_id_only, _st5_twice, "twiin-st-5", "error"),
]


@pytest.mark.parametrize(
    ("make", "mutate", "key", "severity"), [n[1:] for n in NEGATIVE], ids=[n[0] for n in NEGATIVE]
)
def test_negative_reports_invariant_with_severity(
    make: Callable[[], Any], mutate: Callable[[Any], None] | None, key: str, severity: str
) -> None:
    resource = make()
    if mutate is not None:
        assert not any(i.key == key for i in validate(resource)), "fixture must pass before mutation"
        mutate(resource)
    issues = validate(resource)
    hits = [i for i in issues if i.key == key]
    assert hits, f"{key} not reported: {issues}"
    assert {i.severity for i in hits} == {severity}
    assert hits[0].severity == INVARIANTS[key].severity
    assert hits[0].message.startswith(f"{key}:")
    # the harness' rule: the text names the key; nothing else in the fixture broke except structure
    assert all(i.key == key or i.key not in INVARIANTS for i in issues)


def test_every_invariant_has_a_negative_case() -> None:
    covered = {n[3] for n in NEGATIVE}
    assert covered == set(INVARIANTS)
    listed = {f"twiin-ct-{n}" for n in range(1, 7)} | {f"twiin-st-{n}" for n in range(1, 6)}
    listed |= {f"twiin-ntf-{n}" for n in range(1, 5)}
    listed |= {
        "twiin-crt-1",
        "twiin-acrt-1",
        "twiin-task-1",
        "twiin-aid-1",
        "twiin-sr-1",
        "twiin-wsub-1",
        "twiin-sub-1",
    }
    assert set(INVARIANTS) == listed


def test_severities_match_spec() -> None:
    warnings = {k for k, inv in INVARIANTS.items() if inv.severity == "warning"}
    assert warnings == {"twiin-ct-5", "twiin-ct-6", "twiin-task-1", "twiin-st-4", "twiin-sub-1"}
