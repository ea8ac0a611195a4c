"""The TA Workflow status state machine: which status moves each role may make, per Task kind.

The table is data (:data:`TRANSITIONS`); :func:`status_allowed` answers one question and
:func:`check_status` raises :class:`~twiin.errors.IllegalTransition`. The element-level rules
(businessStatus, code, ``for``, reserved reasons) live in :mod:`twiin.exchange.workflow.access`.

Sources: TA Workflow IG invariants (``twiin-ct-1``, ``twiin-crt-1``, ``twiin-acrt-1``) and the
life cycles assembled in the Twiin core reference, §3.6. ``received`` is allowed as an optional
acknowledgement by the Fulfiller because no invariant forbids it.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from twiin.errors import IllegalTransition
from twiin.exchange.workflow.codes import Role, TaskKind

__all__ = [
    "CREATE",
    "TERMINAL",
    "TRANSITIONS",
    "Transition",
    "check_status",
    "status_allowed",
    "targets",
]

#: The pseudo-status of a Task that does not exist yet.
CREATE = "(create)"

P = frozenset({Role.PLACER})
F = frozenset({Role.FULFILLER})
PF = frozenset({Role.PLACER, Role.FULFILLER})


@attrs.frozen
class Transition:
    """One allowed status move of a Task kind, and who may make it."""

    kind: TaskKind
    source: str
    target: str
    roles: frozenset[Role]


def _moves(
    kind: TaskKind, rows: Iterable[tuple[str | tuple[str, ...], str, frozenset[Role]]]
) -> list[Transition]:
    out: list[Transition] = []
    for sources, target, roles in rows:
        for source in (sources,) if isinstance(sources, str) else sources:
            out.append(Transition(kind, source, target, roles))
    return out


_CT = TaskKind.COORDINATION
_CRT = TaskKind.CANCELLATION_REQUEST
_ACRT = TaskKind.AUTHORIZATION_CANCELLATION_REQUEST

#: Every allowed status move. Anything not listed is illegal.
TRANSITIONS: tuple[Transition, ...] = tuple(
    _moves(
        _CT,
        [
            (CREATE, "requested", P),
            ("requested", "received", F),
            (("requested", "received"), "accepted", F),
            (("requested", "received"), "rejected", F),
            ("accepted", "in-progress", F),  # only with code fulfill (access rules)
            ("in-progress", "completed", F),
            ("in-progress", "failed", PF),  # Placer: after an accepted Cancellation Request
            (("requested", "received", "accepted"), "cancelled", P),
            (
                (
                    "requested",
                    "received",
                    "accepted",
                    "rejected",
                    "cancelled",
                    "in-progress",
                    "completed",
                    "failed",
                ),
                "entered-in-error",
                P,
            ),
        ],
    )
    + _moves(
        _CRT,
        [
            (CREATE, "requested", P),
            ("requested", "accepted", F),
            ("requested", "rejected", F),
            ("requested", "cancelled", P),
            (("requested", "accepted", "rejected", "cancelled"), "entered-in-error", P),
        ],
    )
    + _moves(
        _ACRT,
        [
            (CREATE, "requested", F),
            ("requested", "accepted", P),
            ("requested", "rejected", P),
        ],
    )
)

_INDEX: dict[tuple[TaskKind, str, str], frozenset[Role]] = {
    (t.kind, t.source, t.target): t.roles for t in TRANSITIONS
}

#: Statuses from which no role can move a Task further (besides ``entered-in-error``).
TERMINAL: dict[TaskKind, frozenset[str]] = {
    _CT: frozenset({"rejected", "cancelled", "completed", "failed", "entered-in-error"}),
    _CRT: frozenset({"accepted", "rejected", "cancelled", "entered-in-error"}),
    _ACRT: frozenset({"accepted", "rejected"}),
}


def status_allowed(kind: TaskKind, source: str, target: str, role: Role) -> bool:
    """True when ``role`` may move a ``kind`` Task from ``source`` (or :data:`CREATE`) to ``target``."""
    return role in _INDEX.get((kind, source, target), frozenset())


def targets(kind: TaskKind, source: str, role: Role) -> frozenset[str]:
    """The statuses ``role`` may move a ``kind`` Task to from ``source``."""
    return frozenset(
        t.target for t in TRANSITIONS if t.kind is kind and t.source == source and role in t.roles
    )


def check_status(kind: TaskKind, source: str, target: str, role: Role) -> None:
    """Raise :class:`~twiin.errors.IllegalTransition` unless the move is in :data:`TRANSITIONS`."""
    if source == target:
        return
    if status_allowed(kind, source, target, role):
        return
    roles = _INDEX.get((kind, source, target))
    if roles:
        who = " or ".join(sorted(r.value for r in roles))
        raise IllegalTransition(source, target, f"only the {who} may make this move on a {kind.name} Task")
    raise IllegalTransition(source, target, f"not a move of the {kind.name} Task life cycle")
