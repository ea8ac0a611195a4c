"""Parse and validate an incoming STU3 Notification Task (JSON or XML), strictly or leniently.

Strict mode rejects anything the element table does not allow. Lenient mode accepts the known
defects of the published TA Notified Pull examples -- ``identifier`` printed as one object, an
input carrying ``value`` instead of ``valueString``, non-URA organisation systems, unknown
inputs -- repairs what it can and reports each one as a warning. Problems are collected as
:class:`TaskIssue` values and raised together in one :class:`~twiin.errors.NotificationError`
(``status`` 400 for a malformed resource, 422 for a well-formed Task that breaks a rule).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import attrs
import pydantic

from twiin import naming
from twiin.errors import InvalidIdentifier, ModelValidationError, NotificationError, UnsafeXML
from twiin.exchange.notified_pull.task import (
    AUTHORIZATION_BASE,
    GET_WORKFLOW_TASK,
    READ_RESOURCE,
    NotificationTask,
    PartyId,
    QueryInput,
    ReadInput,
)
from twiin.fhir.content import xml_to_dict
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Bsn
from twiin.usecases.bgz import parse_query

__all__ = ["MAX_TASK_BYTES", "ParsedTask", "TaskIssue", "parse_notification_task", "task_to_dict"]

MAX_TASK_BYTES = 1024 * 1024
QUERY_SYSTEMS = (naming.LOINC_SYSTEM, naming.SNOMED_SYSTEM)
Severity = Literal["error", "warning"]


@attrs.frozen
class TaskIssue:
    """One finding: severity, FHIR issue code, element path, message (never a value)."""

    severity: Severity
    code: str
    path: str
    message: str

    def to_fhir(self) -> dict[str, Any]:
        """An ``OperationOutcome.issue``."""
        return {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.message,
            "expression": [self.path],
        }


@attrs.frozen
class ParsedTask:
    """A validated Notification Task and the warnings found on the way."""

    task: NotificationTask
    warnings: tuple[TaskIssue, ...] = ()


def task_to_dict(body: bytes | str | dict[str, Any], content_type: str | None = None) -> dict[str, Any]:
    """The Task as a dict from JSON bytes, XML bytes or a dict; 400 ``NotificationError`` if unreadable."""
    if isinstance(body, dict):
        return body
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) > MAX_TASK_BYTES:
        raise NotificationError("Task body too large", status=413)
    media = (content_type or "").split(";")[0].strip().lower()
    if media.endswith("xml") or (not media and raw.lstrip()[:1] == b"<"):
        return _xml_to_dict(raw)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise NotificationError("body is not valid JSON", status=400) from None
    if not isinstance(data, dict):
        raise NotificationError("body is not a JSON object", status=400)
    return data


def _xml_to_dict(raw: bytes) -> dict[str, Any]:
    try:
        data = xml_to_dict(raw, FhirVersion.STU3)  # hardened parser: no DTD, entities or network
    except (ModelValidationError, UnsafeXML):
        raise NotificationError("body is not a valid STU3 Task in XML", status=400) from None
    if data.get("resourceType") != "Task":
        raise NotificationError("body is not a valid STU3 Task in XML", status=400)
    return data


class _Collector:
    def __init__(self, lenient: bool) -> None:
        self.lenient = lenient
        self.issues: list[TaskIssue] = []

    def error(self, path: str, message: str, code: str = "invalid") -> None:
        self.issues.append(TaskIssue("error", code, path, message))

    def warn(self, path: str, message: str, code: str = "invalid") -> None:
        self.issues.append(TaskIssue("warning", code, path, message))

    def defect(self, path: str, message: str, code: str = "invalid") -> None:
        """A known defect: a warning in lenient mode, an error in strict mode."""
        (self.warn if self.lenient else self.error)(path, message, code)

    @property
    def errors(self) -> list[TaskIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> tuple[TaskIssue, ...]:
        return tuple(i for i in self.issues if i.severity == "warning")

    def raise_if_errors(self, status: int) -> None:
        if self.errors:
            first = self.errors[0]
            raise NotificationError(
                f"invalid Notification Task: {first.path}: {first.message}", status=status, issues=self.issues
            )


def _repair(data: dict[str, Any], out: _Collector) -> dict[str, Any]:
    """Fix (lenient) or flag (strict) the known defects of the published examples."""
    fixed = dict(data)
    if isinstance(fixed.get("identifier"), dict):
        out.defect("Task.identifier", "identifier is an object; STU3 requires an array")
        if out.lenient:
            fixed["identifier"] = [fixed["identifier"]]
    inputs = fixed.get("input")
    if isinstance(inputs, list):
        repaired = []
        for i, item in enumerate(inputs):
            if (
                isinstance(item, dict)
                and "value" in item
                and not any(k.startswith("value") and k != "value" for k in item)
            ):
                out.defect(f"Task.input[{i}]", "input uses 'value' instead of a value[x] element")
                if out.lenient:
                    fixed_item = dict(item)
                    value = fixed_item.pop("value")
                    fixed_item["valueBoolean" if isinstance(value, bool) else "valueString"] = value
                    repaired.append(fixed_item)
                    continue
            repaired.append(item)
        fixed["input"] = repaired
    return fixed


def _validate_model(data: dict[str, Any], out: _Collector) -> dict[str, Any]:
    if data.get("resourceType") != "Task":
        out.error("resourceType", "resource is not a Task", "structure")
        out.raise_if_errors(400)
    model = FhirVersion.STU3.model_class("Task")
    try:
        task = model.model_validate(data)
    except pydantic.ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False)[:20]:
            path = "Task." + ".".join(str(p) for p in err["loc"] if p != "__root__")
            out.error(path, f"not valid STU3: {err['type']}", "structure")
        out.raise_if_errors(400)
        raise  # pragma: no cover - raise_if_errors always raises here
    except Exception:
        out.error("Task", "not a valid STU3 Task", "structure")
        out.raise_if_errors(400)
        raise  # pragma: no cover
    normalised: dict[str, Any] = task.model_dump(mode="json", by_alias=True, exclude_none=True)
    return normalised


def _party(data: dict[str, Any], path: str, out: _Collector, *, ura: bool) -> PartyId | None:
    ident = data.get("identifier") if isinstance(data, dict) else None
    if not isinstance(ident, dict) or not ident.get("value") or not ident.get("system"):
        out.error(f"{path}.identifier", "identifier with system and value is required", "required")
        return None
    party = PartyId(str(ident["system"]), str(ident["value"]))
    if ura and party.ura is None:
        out.defect(f"{path}.identifier", "organisation identifier is not a valid URA")
    return party


def _datetime(value: Any, path: str, out: _Collector) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        out.error(path, "not a dateTime")
        return None
    if moment.tzinfo is None:
        out.defect(path, "dateTime without a time zone")
        return None
    return moment


def _inputs(inputs: list[dict[str, Any]], out: _Collector) -> dict[str, Any]:
    found: dict[str, Any] = {"base": None, "workflow": False, "reads": [], "queries": [], "counts": {}}
    for i, item in enumerate(inputs):
        path = f"Task.input[{i}]"
        codings = [c for c in item.get("type", {}).get("coding", []) if c.get("system") and c.get("code")]
        param = next((c for c in codings if c["system"] == naming.TASK_PARAMETER_SYSTEM), None)
        concept = next((c for c in codings if c["system"] in QUERY_SYSTEMS), None)
        if param is not None:
            code = param["code"]
            found["counts"][code] = found["counts"].get(code, 0) + 1
            if code == AUTHORIZATION_BASE:
                if not isinstance(item.get("valueString"), str) or not item["valueString"]:
                    out.error(path, "authorization-base needs a non-empty valueString")
                found["base"] = item.get("valueString")
            elif code == GET_WORKFLOW_TASK:
                if not isinstance(item.get("valueBoolean"), bool):
                    out.error(path, "get-workflow-task needs valueBoolean")
                found["workflow"] = item.get("valueBoolean") is True
            elif code == READ_RESOURCE:
                ref = (item.get("valueReference") or {}).get("reference")
                if not isinstance(ref, str) or not _relative_reference(ref):
                    out.error(path, "read-resource needs a relative valueReference (Type/id)")
                else:
                    found["reads"].append(ReadInput(ref, param.get("display")))
            else:
                out.defect(path, f"unknown TaskParameter code {code!r}", "code-invalid")
        elif concept is not None:
            query = item.get("valueString")
            try:
                if not isinstance(query, str):
                    raise ValueError("no valueString")
                parse_query(query)
            except ValueError:
                out.error(path, "query input needs a valueString search relative to the sender's base")
                continue
            found["queries"].append(
                QueryInput(concept["system"], concept["code"], query, concept.get("display"))
            )
        else:
            out.defect(
                path, "input type is neither a TaskParameter nor a LOINC/SNOMED concept", "code-invalid"
            )
    for code in (AUTHORIZATION_BASE, GET_WORKFLOW_TASK):
        if found["counts"].get(code, 0) > 1:
            out.error("Task.input", f"{code} may occur at most once")
    return found


def _relative_reference(ref: str) -> bool:
    parts = ref.split("/")
    return (
        len(parts) == 2
        and parts[0].isalpha()
        and parts[0][:1].isupper()
        and bool(parts[1])
        and "?" not in ref
    )


def parse_notification_task(
    body: bytes | str | dict[str, Any],
    *,
    content_type: str | None = None,
    lenient: bool = False,
) -> ParsedTask:
    """Parse and validate a Notification Task; raise ``NotificationError`` (400/422) with all issues."""
    out = _Collector(lenient)
    data = _repair(task_to_dict(body, content_type), out)
    out.raise_if_errors(400)
    task = _validate_model(data, out)

    identifiers = task.get("identifier", [])
    if len(identifiers) != 1 or not identifiers[0].get("value"):
        out.error("Task.identifier", "exactly one identifier with a value is required", "required")
    group = task.get("groupIdentifier") or {}
    if not group.get("value"):
        out.error("Task.groupIdentifier", "groupIdentifier with a value is required", "required")
    status = task.get("status")
    if status not in ("requested", "cancelled"):
        out.error("Task.status", "status must be 'requested' (or 'cancelled')", "code-invalid")
    if task.get("intent") != "proposal":
        out.error("Task.intent", "intent must be 'proposal'", "code-invalid")
    codings = (task.get("code") or {}).get("coding", [])
    if not any(
        c.get("system") == naming.TASK_CODE_SYSTEM and c.get("code") == naming.PULL_NOTIFICATION_CODE
        for c in codings
    ):
        out.error("Task.code", "code must be TaskCode|pull-notification", "code-invalid")
    based_on = task.get("basedOn", [])
    if len(based_on) > 1:
        out.error("Task.basedOn", "at most one basedOn reference is allowed")
    based_ref = based_on[0].get("reference") if based_on else None
    if based_ref is not None and not _relative_reference(based_ref):
        out.defect("Task.basedOn", "basedOn should be a relative reference Task/<id>")
    requester = task.get("requester") or {}
    agent = _party(requester.get("agent") or {}, "Task.requester.agent", out, ura=False)
    on_behalf = _party(requester.get("onBehalfOf") or {}, "Task.requester.onBehalfOf", out, ura=True)
    owner = _party(task.get("owner") or {}, "Task.owner", out, ura=True)
    patient = None
    for_ident = (task.get("for") or {}).get("identifier")
    if isinstance(for_ident, dict) and for_ident.get("system") == naming.BSN_SYSTEM:
        try:
            patient = Bsn(str(for_ident.get("value", "")))
        except InvalidIdentifier:
            out.error("Task.for.identifier", "patient BSN is not valid")
    elif task.get("for") is not None:
        out.defect("Task.for", "patient is not identified by a BSN identifier")
    authored = _datetime(task.get("authoredOn"), "Task.authoredOn", out)
    end = _datetime(((task.get("restriction") or {}).get("period") or {}).get("end"), "Task.restriction", out)
    found = _inputs(task.get("input", []), out)
    if found["workflow"] and based_ref is None:
        out.error("Task.basedOn", "get-workflow-task = true requires basedOn", "required")
    if status == "requested" and not (found["reads"] or found["queries"] or found["workflow"]):
        out.error("Task.input", "no read-resource, query or get-workflow-task input", "required")
    out.raise_if_errors(422)
    assert agent is not None  # guaranteed by raise_if_errors
    assert on_behalf is not None
    assert owner is not None
    parsed = NotificationTask(
        identifier=str(identifiers[0]["value"]),
        identifier_system=str(identifiers[0].get("system", "")),
        group_identifier=str(group["value"]),
        group_identifier_system=str(group.get("system", "")),
        owner=owner,
        on_behalf_of=on_behalf,
        requester_agent=agent,
        patient=patient,
        authored_on=authored,
        valid_until=end,
        based_on=based_ref,
        status="cancelled" if status == "cancelled" else "requested",
        intent="proposal",
        authorization_base=found["base"],
        get_workflow_task=found["workflow"],
        reads=tuple(found["reads"]),
        queries=tuple(found["queries"]),
    )
    return ParsedTask(parsed, out.warnings)
