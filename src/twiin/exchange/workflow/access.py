"""Who may change what on a TA Workflow Task: the element-level rules on top of the status table.

:func:`check_change` compares an old and a new version of a Task for a known role and lists every
:class:`Violation`; :func:`ensure_allowed` raises the first as
:class:`~twiin.errors.IllegalTransition`. :func:`check_update` and :func:`check_create` are the
server-side entry points for a Placer FHIR server: they work out the caller's role from the
*stored* Task and the authenticated URA (never from the submitted body).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from twiin import naming
from twiin.errors import IllegalTransition
from twiin.exchange.workflow.codes import (
    FULFILL,
    NOT_SELECTED,
    REQUEST_FULFILLMENT,
    SELECTED,
    SUPPLEMENTAL_QUERY,
    SUPPLEMENTAL_RESOURCE,
    Role,
    TaskKind,
    has_coding,
    task_kind,
)
from twiin.exchange.workflow.state import CREATE, status_allowed
from twiin.identifiers import Ura

__all__ = [
    "FULFILLER_WRITABLE",
    "IMMUTABLE",
    "PLACER_RESERVED",
    "AccessPolicy",
    "Violation",
    "check_change",
    "check_create",
    "check_update",
    "ensure_allowed",
    "roles_of",
]

#: Elements no one may change once a Task exists.
IMMUTABLE = frozenset(
    {
        "resourceType",
        "id",
        "identifier",
        "intent",
        "requester",
        "owner",
        "focus",
        "authoredOn",
        "basedOn",
        "partOf",
        "groupIdentifier",
        "instantiatesCanonical",
        "instantiatesUri",
    }
)

#: Elements a Fulfiller may write, per Task kind (TA "Write access"; the examples show these).
FULFILLER_WRITABLE: Mapping[TaskKind, frozenset[str]] = {
    TaskKind.COORDINATION: frozenset({"status", "statusReason", "output", "executionPeriod", "lastModified"}),
    TaskKind.CANCELLATION_REQUEST: frozenset({"status", "statusReason", "lastModified"}),
    TaskKind.AUTHORIZATION_CANCELLATION_REQUEST: frozenset(),
}

#: Elements only the Fulfiller writes; the Placer leaves them alone.
PLACER_RESERVED: Mapping[TaskKind, frozenset[str]] = {
    TaskKind.COORDINATION: frozenset({"output", "executionPeriod"}),
    TaskKind.CANCELLATION_REQUEST: frozenset({"output"}),
    TaskKind.AUTHORIZATION_CANCELLATION_REQUEST: frozenset(),
}

_IGNORED = frozenset({"meta", "text"})


@attrs.frozen
class Violation:
    """One broken workflow rule: a stable ``key``, the element ``path`` and a message without patient data."""

    key: str
    path: str
    message: str


@attrs.frozen
class AccessPolicy:
    """The element-level write rules; the defaults follow the TA, a Placer may tighten or widen them."""

    immutable: frozenset[str] = IMMUTABLE
    fulfiller_writable: Mapping[TaskKind, frozenset[str]] = FULFILLER_WRITABLE
    placer_reserved: Mapping[TaskKind, frozenset[str]] = PLACER_RESERVED


DEFAULT_POLICY = AccessPolicy()


def _profiles(resource: Mapping[str, Any]) -> list[Any]:
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, Mapping) else None
    return list(profiles) if isinstance(profiles, list) else []


def _ident_value(reference: Any, system: str | tuple[str, ...]) -> str | None:
    if not isinstance(reference, Mapping):
        return None
    ident = reference.get("identifier")
    if not isinstance(ident, Mapping):
        return None
    systems = (system,) if isinstance(system, str) else system
    value = ident.get("value")
    return value if ident.get("system") in systems and isinstance(value, str) else None


def _owner_assigner(task: Mapping[str, Any]) -> str | None:
    owner = task.get("owner")
    ident = owner.get("identifier") if isinstance(owner, Mapping) else None
    assigner = ident.get("assigner") if isinstance(ident, Mapping) else None
    return _ident_value(assigner, (f"urn:oid:{naming.URA_OID}", naming.URA_SYSTEM))


def _same_ura(value: str | None, ura: Ura) -> bool:
    if value is None:
        return False
    try:
        return Ura(value) == ura
    except ValueError:
        return False


def roles_of(task: Mapping[str, Any], ura: Ura, *, placer_ura: Ura | None = None) -> frozenset[Role]:
    """The roles ``ura`` holds on ``task``: Placer (requester, or owner of an ACRT) and/or Fulfiller.

    ``placer_ura`` is the hosting Placer's own URA; it identifies the Placer on a Cancellation
    Request Task without ``requester``.
    """
    kind = task_kind(task)
    roles: set[Role] = set()
    if kind is TaskKind.AUTHORIZATION_CANCELLATION_REQUEST:
        if _same_ura(_ident_value(task.get("owner"), naming.URA_SYSTEM), ura):
            roles.add(Role.PLACER)
        if _same_ura(_ident_value(task.get("requester"), naming.URA_SYSTEM), ura):
            roles.add(Role.FULFILLER)
    else:
        if _same_ura(_ident_value(task.get("requester"), naming.URA_SYSTEM), ura):
            roles.add(Role.PLACER)
        if _same_ura(_owner_assigner(task), ura):
            roles.add(Role.FULFILLER)
    if placer_ura is not None and ura == placer_ura:
        roles.add(Role.PLACER)
    return frozenset(roles)


def _has_reason(task: Mapping[str, Any], code: str) -> bool:
    return has_coding(task.get("statusReason"), naming.CS_TA_WORKFLOW, code)


def _code_is(task: Mapping[str, Any], system: str, code: str) -> bool:
    return has_coding(task.get("code"), system, code)


def _supplemental(task: Mapping[str, Any]) -> bool:
    inputs = task.get("input")
    for item in inputs if isinstance(inputs, list) else ():
        if isinstance(item, Mapping) and any(
            has_coding(item.get("type"), naming.CS_TA_WORKFLOW, c)
            for c in (SUPPLEMENTAL_RESOURCE, SUPPLEMENTAL_QUERY)
        ):
            return True
    return False


def _coordination_rules(old: Mapping[str, Any] | None, new: Mapping[str, Any], role: Role) -> list[Violation]:
    out: list[Violation] = []
    old = old or {}
    status, old_status = new.get("status"), old.get("status")
    bidding = _code_is(new, naming.CS_TA_WORKFLOW, REQUEST_FULFILLMENT)
    fulfill = _code_is(new, naming.HL7_TASK_CODE_SYSTEM, FULFILL)
    if status == "in-progress" and old_status != "in-progress" and not fulfill:
        out.append(
            Violation("wf-start-needs-fulfill", "Task.status", "work may start only when code is fulfill")
        )
    if _has_reason(new, NOT_SELECTED) and not _has_reason(old, NOT_SELECTED):
        if role is not Role.PLACER:
            out.append(
                Violation(
                    "wf-not-selected-reserved", "Task.statusReason", "not-selected is reserved to the Placer"
                )
            )
        if status != "cancelled":
            out.append(
                Violation("wf-not-selected-status", "Task.statusReason", "not-selected only with cancelled")
            )
    if bidding and new.get("for") is not None:
        out.append(
            Violation("wf-for-before-selection", "Task.for", "no patient before selection (twiin-ct-4)")
        )
    if bidding and _supplemental(new):
        out.append(
            Violation(
                "wf-supplemental-before-selection", "Task.input", "supplemental inputs only after selection"
            )
        )
    if (
        old
        and old.get("for") is not None
        and new.get("for") != old.get("for")
        and status != "entered-in-error"
    ):
        out.append(Violation("wf-for-changed", "Task.for", "the patient of a Task does not change"))
    was_selected = has_coding(old.get("businessStatus"), naming.CS_TA_WORKFLOW, SELECTED)
    selected = has_coding(new.get("businessStatus"), naming.CS_TA_WORKFLOW, SELECTED)
    code_changed = old and new.get("code") != old.get("code")
    if selected and not was_selected:
        if old and not (
            _code_is(old, naming.CS_TA_WORKFLOW, REQUEST_FULFILLMENT) and old_status == "accepted"
        ):
            out.append(
                Violation("wf-selection", "Task.businessStatus", "only an accepted candidate can be selected")
            )
        if status != "accepted" or not fulfill or new.get("for") is None:
            out.append(
                Violation(
                    "wf-selection", "Task.businessStatus", "selection sets code fulfill and for (twiin-ct-3)"
                )
            )
    elif was_selected and not selected and status != "entered-in-error":
        out.append(Violation("wf-selection", "Task.businessStatus", "a selection is not withdrawn"))
    if code_changed and not (selected and not was_selected):
        out.append(
            Violation(
                "wf-code-changed",
                "Task.code",
                "code changes only from request-fulfillment to fulfill on selection",
            )
        )
    return out


def check_change(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    role: Role,
    *,
    policy: AccessPolicy = DEFAULT_POLICY,
) -> list[Violation]:
    """Every rule ``role`` breaks by turning ``old`` (``None`` on create) into ``new``."""
    out: list[Violation] = []
    kind = task_kind(old if old is not None else new)
    if old is not None and task_kind(new) is not kind:
        return [Violation("wf-kind-changed", "Task", "a Task does not change profile")]
    source = str(old.get("status")) if old is not None else CREATE
    target = str(new.get("status"))
    if source != target and not status_allowed(kind, source, target, role):
        out.append(Violation("wf-status", "Task.status", f"{role.value} may not move {source} -> {target}"))
    if old is not None:
        writable = policy.fulfiller_writable[kind] if role is Role.FULFILLER else None
        for element in sorted((set(old) | set(new)) - _IGNORED):
            if element in old and element in new and old[element] == new[element]:
                continue
            if element in policy.immutable:
                out.append(Violation("wf-immutable", f"Task.{element}", "this element never changes"))
            elif writable is not None and element not in writable:
                out.append(
                    Violation("wf-not-writable", f"Task.{element}", "the Fulfiller may not change this")
                )
            elif role is Role.PLACER and element in policy.placer_reserved[kind]:
                out.append(Violation("wf-not-writable", f"Task.{element}", "only the Fulfiller writes this"))
        if _profiles(old) and _profiles(new) and _profiles(old) != _profiles(new):
            out.append(Violation("wf-immutable", "Task.meta.profile", "a Task does not change profile"))
    if kind is TaskKind.COORDINATION:
        out.extend(_coordination_rules(old, new, role))
    return out


def ensure_allowed(
    old: Mapping[str, Any], new: Mapping[str, Any], role: Role, *, policy: AccessPolicy = DEFAULT_POLICY
) -> None:
    """Raise :class:`~twiin.errors.IllegalTransition` when ``role`` may not turn ``old`` into ``new``."""
    violations = check_change(old, new, role, policy=policy)
    if violations:
        first = violations[0]
        raise IllegalTransition(
            str(old.get("status")), str(new.get("status")), f"{first.key}: {first.message}"
        )


def _for_roles(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], roles: frozenset[Role], policy: AccessPolicy
) -> list[Violation]:
    if not roles:
        return [
            Violation(
                "wf-not-party", "Task", "the caller is neither the Placer nor the Fulfiller of this Task"
            )
        ]
    best: list[Violation] | None = None
    for role in sorted(roles):
        found = check_change(old, new, role, policy=policy)
        if not found:
            return []
        best = found if best is None else best
    return best or []


def check_update(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    requester_ura: Ura,
    *,
    placer_ura: Ura | None = None,
    policy: AccessPolicy = DEFAULT_POLICY,
) -> list[Violation]:
    """Server side: the violations of an update of stored Task ``old`` into ``new`` by ``requester_ura``.

    The caller's role comes from the stored Task; an empty list means the update may proceed.
    """
    try:
        roles = roles_of(old, requester_ura, placer_ura=placer_ura)
    except Exception:
        return [Violation("wf-unknown-task", "Task", "the stored resource is not a TA Workflow Task")]
    try:
        return _for_roles(old, new, roles, policy)
    except Exception:
        return [Violation("wf-unknown-task", "Task", "the submitted resource is not a TA Workflow Task")]


def check_create(
    new: Mapping[str, Any],
    requester_ura: Ura,
    *,
    placer_ura: Ura | None = None,
    policy: AccessPolicy = DEFAULT_POLICY,
) -> list[Violation]:
    """Server side: the violations of creating ``new`` by ``requester_ura`` at a Placer.

    A Fulfiller may create only an Authorization Cancellation Request Task naming itself as
    requester (and, when ``placer_ura`` is given, this Placer as owner).
    """
    try:
        kind = task_kind(new)
        roles = roles_of(new, requester_ura, placer_ura=placer_ura)
    except Exception:
        return [Violation("wf-unknown-task", "Task", "not a TA Workflow Task")]
    out: list[Violation] = []
    if kind is TaskKind.AUTHORIZATION_CANCELLATION_REQUEST:
        if not _same_ura(_ident_value(new.get("requester"), naming.URA_SYSTEM), requester_ura):
            out.append(
                Violation("wf-not-party", "Task.requester", "the requester must be the calling organization")
            )
        if placer_ura is not None and not _same_ura(
            _ident_value(new.get("owner"), naming.URA_SYSTEM), placer_ura
        ):
            out.append(Violation("wf-not-party", "Task.owner", "the owner must be this Placer"))
        roles = frozenset({Role.FULFILLER})
    if out:
        return out
    return _for_roles(None, new, roles, policy)
