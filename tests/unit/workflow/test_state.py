"""The status state machine, checked against the life cycles of spec/twiin-core.md §3.5-3.6."""

from __future__ import annotations

import itertools

import pytest

from twiin.errors import ExchangeError, IllegalTransition
from twiin.exchange.workflow import Role, TaskKind, check_status, status_allowed, targets
from twiin.exchange.workflow.state import CREATE, TERMINAL

P, F = Role.PLACER, Role.FULFILLER
CT, CRT, ACRT = (
    TaskKind.COORDINATION,
    TaskKind.CANCELLATION_REQUEST,
    TaskKind.AUTHORIZATION_CANCELLATION_REQUEST,
)

STATUSES = [
    "draft",
    "requested",
    "received",
    "accepted",
    "rejected",
    "ready",
    "cancelled",
    "in-progress",
    "on-hold",
    "failed",
    "completed",
    "entered-in-error",
]

# The spec's life cycles written out move by move (kind, from, to, who).
EXPECTED = {
    (CT, CREATE, "requested", P),
    (CT, "requested", "received", F),
    (CT, "requested", "accepted", F),
    (CT, "received", "accepted", F),
    (CT, "requested", "rejected", F),
    (CT, "received", "rejected", F),
    (CT, "accepted", "in-progress", F),
    (CT, "in-progress", "completed", F),
    (CT, "in-progress", "failed", F),
    (CT, "in-progress", "failed", P),
    (CT, "requested", "cancelled", P),
    (CT, "received", "cancelled", P),
    (CT, "accepted", "cancelled", P),
    *{
        (CT, s, "entered-in-error", P)
        for s in (
            "requested",
            "received",
            "accepted",
            "rejected",
            "cancelled",
            "in-progress",
            "completed",
            "failed",
        )
    },
    (CRT, CREATE, "requested", P),
    (CRT, "requested", "accepted", F),
    (CRT, "requested", "rejected", F),
    (CRT, "requested", "cancelled", P),
    *{(CRT, s, "entered-in-error", P) for s in ("requested", "accepted", "rejected", "cancelled")},
    (ACRT, CREATE, "requested", F),
    (ACRT, "requested", "accepted", P),
    (ACRT, "requested", "rejected", P),
}

ALL = [
    (kind, source, target, role)
    for kind in TaskKind
    for source, target in itertools.product([CREATE, *STATUSES], STATUSES)
    if source != target
    for role in Role
]


@pytest.mark.parametrize(("kind", "source", "target", "role"), ALL)
def test_every_move_matches_the_life_cycle(kind: TaskKind, source: str, target: str, role: Role) -> None:
    expected = (kind, source, target, role) in EXPECTED
    assert status_allowed(kind, source, target, role) is expected
    if expected:
        check_status(kind, source, target, role)
    else:
        with pytest.raises(IllegalTransition) as info:
            check_status(kind, source, target, role)
        assert info.value.current == source
        assert info.value.requested == target
        assert isinstance(info.value, ExchangeError)


@pytest.mark.parametrize("status", ["draft", "ready", "on-hold"])
def test_ct1_statuses_are_unreachable_for_anyone(status: str) -> None:
    for source, role in itertools.product([CREATE, *STATUSES], Role):
        assert not status_allowed(CT, source, status, role)


def test_crt_and_acrt_stay_inside_their_value_sets() -> None:
    crt_allowed = {"requested", "accepted", "rejected", "cancelled", "entered-in-error"}
    acrt_allowed = {"requested", "accepted", "rejected"}
    for source, role in itertools.product([CREATE, *STATUSES], Role):
        assert targets(CRT, source, role) <= crt_allowed
        assert targets(ACRT, source, role) <= acrt_allowed


def test_terminal_statuses_only_lead_to_entered_in_error() -> None:
    for kind, finals in TERMINAL.items():
        for status in finals:
            for role in Role:
                assert targets(kind, status, role) <= {"entered-in-error"}


def test_wrong_role_names_who_may() -> None:
    with pytest.raises(IllegalTransition, match="only the fulfiller"):
        check_status(CT, "requested", "accepted", P)
    with pytest.raises(IllegalTransition, match="only the placer"):
        check_status(ACRT, "requested", "accepted", F)
    with pytest.raises(IllegalTransition, match="not a move"):
        check_status(CT, "requested", "on-hold", P)


def test_staying_in_a_status_is_not_a_move() -> None:
    check_status(CT, "accepted", "accepted", F)
    check_status(ACRT, "requested", "requested", P)
