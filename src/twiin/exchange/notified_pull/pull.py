"""Receiver half, client side (sans-I/O core): plan the pull and fold answers into typed results.

:func:`plan_pull` turns a Notification Task into steps (workflow Task, reads, searches);
:func:`interpret` turns one answer into resources and the next page; :class:`PullResult` keeps
one :class:`InputResult` per input so a partial failure is visible and never hidden. The sync
and async facades in :mod:`twiin.exchange.notified_pull.client` run these steps concurrently.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from twiin._http.compat import httpx
from twiin.errors import ModelValidationError, NotificationCancelled, TwiinError
from twiin.exchange.notified_pull.http_core import check_response, json_body, next_link
from twiin.exchange.notified_pull.task import NotificationTask, QueryInput, ReadInput
from twiin.identifiers import Ura

__all__ = ["InputResult", "PullResult", "PullStep", "interpret", "plan_pull"]

StepKind = Literal["workflow-task", "read", "query"]


@attrs.frozen
class PullStep:
    """One thing to fetch: the workflow Task, a read, or a search (``target`` relative to the base)."""

    kind: StepKind
    target: str
    input: ReadInput | QueryInput | None = None


def plan_pull(task: NotificationTask) -> list[PullStep]:
    """Every step of the pull, workflow Task first, then reads, then searches (TA order)."""
    steps: list[PullStep] = []
    if task.get_workflow_task and task.workflow_task_id:
        steps.append(PullStep("workflow-task", f"Task/{task.workflow_task_id}"))
    steps.extend(PullStep("read", r.reference, r) for r in task.reads)
    steps.extend(PullStep("query", q.query, q) for q in task.queries)
    return steps


@attrs.frozen
class PageOutcome:
    """What one answer contributed: resources, the raw JSON, and the next page URL."""

    resources: tuple[dict[str, Any], ...]
    raw: dict[str, Any]
    next_url: str | None


def interpret(step: PullStep, response: httpx.Response, base_url: str, seen: set[str]) -> PageOutcome:
    """Check one answer for ``step`` and extract its resources; raises the typed error otherwise."""
    check_response(response)
    body = json_body(response)
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise ModelValidationError("answer is not a FHIR JSON resource", raw=response.content[:2048])
    if step.kind != "query":
        expected = step.target.split("/", 1)[0]
        if body["resourceType"] != expected:
            raise ModelValidationError(
                "read returned another resource type", resource_type=body["resourceType"]
            )
        return PageOutcome((body,), body, None)
    if body["resourceType"] != "Bundle" or body.get("type") != "searchset":
        raise ModelValidationError(
            "search did not return a searchset Bundle", resource_type=body["resourceType"]
        )
    resources = tuple(
        e["resource"]
        for e in body.get("entry") or []
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    )
    return PageOutcome(resources, body, next_link(body, base_url, seen))


@attrs.frozen
class InputResult:
    """The outcome of one input: resources (all pages, includes too), raw pages, or the error."""

    step: PullStep
    resources: tuple[dict[str, Any], ...] = ()
    pages: tuple[dict[str, Any], ...] = ()
    error: TwiinError | None = None

    @property
    def ok(self) -> bool:
        """True when the input was fetched completely."""
        return self.error is None

    @property
    def cancelled(self) -> bool:
        """True when the sender cancelled the notification during this input."""
        return isinstance(self.error, NotificationCancelled)


@attrs.frozen
class PullResult:
    """The result of a pull: one :class:`InputResult` per input, in Task order."""

    task_identifier: str
    sender: Ura | None
    base_url: str
    results: tuple[InputResult, ...]
    workflow_task: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when every input succeeded."""
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> tuple[InputResult, ...]:
        """The inputs that failed."""
        return tuple(r for r in self.results if not r.ok)

    @property
    def cancelled(self) -> bool:
        """True when the sender cancelled during the pull."""
        return any(r.cancelled for r in self.results)

    def resources(self, resource_type: str | None = None) -> list[dict[str, Any]]:
        """Every fetched resource (deduplicated by type and id), optionally of one type."""
        seen: set[tuple[str, str]] = set()
        out: list[dict[str, Any]] = []
        for result in self.results:
            for res in result.resources:
                key = (str(res.get("resourceType")), str(res.get("id")))
                if key in seen or (resource_type and key[0] != resource_type):
                    continue
                seen.add(key)
                out.append(res)
        return out

    def for_query(self, query: str) -> InputResult:
        """The result of the input with search ``query`` (``KeyError`` if there is none)."""
        for result in self.results:
            if result.step.kind == "query" and result.step.target == query:
                return result
        raise KeyError(query)
