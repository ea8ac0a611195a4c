"""Version-aware read-modify-write with bounded re-application after ``412 Precondition Failed``."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from twiin.errors import ExchangeError, PreconditionFailedError
from twiin.exchange.workflow.access import ensure_allowed
from twiin.exchange.workflow.codes import Role
from twiin.exchange.workflow.core import Operation, Patch, Read, Update, Versioned
from twiin.exchange.workflow.jsonpatch import diff
from twiin.exchange.workflow.profiles import check_changed
from twiin.redaction import get_logger

__all__ = ["Change", "guarded", "modify"]

log = get_logger(__name__)

#: A caller-supplied change: gets a private copy of the current resource, returns the new one.
Change = Callable[[dict[str, Any]], dict[str, Any]]


def guarded(change: Change, role: Role) -> Change:
    """Wrap ``change`` so that its result is checked against the workflow rules for ``role``."""

    def apply(current: dict[str, Any]) -> dict[str, Any]:
        new = change(copy.deepcopy(current))
        ensure_allowed(current, new, role)
        return new

    return apply


def modify(
    target: str | Versioned,
    change: Change,
    *,
    attempts: int = 3,
    resource_type: str = "Task",
    use_patch: bool = False,
) -> Operation[Versioned]:
    """Read (unless ``target`` is already read), apply ``change``, update with ``If-Match``.

    On 412 the resource is re-read and ``change`` re-applied, at most ``attempts`` times in all;
    then the last :class:`~twiin.errors.PreconditionFailedError` is raised. A ``change`` that
    raises (e.g. :class:`~twiin.errors.IllegalTransition` because the Task moved on meanwhile)
    stops the loop before anything else is sent, and so does a profile error the change
    introduces. A change that alters nothing sends nothing. ``use_patch`` sends the change as a
    JSON Patch (``PATCH`` with ``If-Match``) instead of the whole resource.
    """
    if attempts < 1:
        raise ExchangeError("attempts must be at least 1")
    current: Versioned | None = target if isinstance(target, Versioned) else None
    resource_id = target.id if isinstance(target, Versioned) else target
    conflict: PreconditionFailedError | None = None
    for attempt in range(1, attempts + 1):
        if current is None:
            current = yield Read(resource_type, resource_id)
        new = change(copy.deepcopy(current.resource))
        if new == current.resource:
            return current
        check_changed(current.resource, new)
        if current.version_id is None:
            raise ExchangeError("no version known for this resource; refusing an unconditional update")
        try:
            if use_patch:
                ops = tuple(diff(current.resource, new))
                updated: Versioned = yield Patch(resource_type, resource_id, ops, current.version_id)
            else:
                updated = yield Update(new, current.version_id)
        except PreconditionFailedError as exc:
            log.info(
                "version conflict on %s/%s (attempt %d of %d)", resource_type, resource_id, attempt, attempts
            )
            conflict = exc
            current = None
            continue
        return updated
    assert conflict is not None
    raise conflict
