"""The STU3 Notification Task of TA Notified Pull: a typed value and its FHIR form.

:class:`NotificationTask` holds every element of the Notification Task (element table of the
TA, Twiin-01 "Send Notification Task"); :meth:`NotificationTask.to_fhir` renders the STU3 JSON
and :func:`build_notification_task` fills in identifiers, timestamps and the inputs. Parsing and
validation of incoming Tasks lives in :mod:`twiin.exchange.notified_pull.task_parse`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import attrs

from twiin import naming
from twiin.identifiers import Bsn, Ura
from twiin.usecases.bgz import BgzQuery

__all__ = [
    "AUTHORIZATION_BASE",
    "GET_WORKFLOW_TASK",
    "READ_RESOURCE",
    "RFC3986_SYSTEM",
    "NotificationTask",
    "PartyId",
    "QueryInput",
    "ReadInput",
    "build_notification_task",
    "new_uuid_identifier",
]

RFC3986_SYSTEM = "urn:ietf:rfc:3986"
AUTHORIZATION_BASE = "authorization-base"
GET_WORKFLOW_TASK = "get-workflow-task"
READ_RESOURCE = "read-resource"
TaskStatus = Literal["requested", "cancelled"]


def new_uuid_identifier() -> str:
    """A fresh ``urn:uuid:`` value for ``identifier`` / ``groupIdentifier``."""
    return f"urn:uuid:{uuid.uuid4()}"


@attrs.frozen
class PartyId:
    """An identifier of a party (system, organisation) as ``system`` and ``value``."""

    system: str
    value: str

    @classmethod
    def of(cls, ura: Ura) -> PartyId:
        """The URA identifier of an organisation."""
        return cls(naming.URA_SYSTEM, ura.value)

    @property
    def ura(self) -> Ura | None:
        """The URA when this is a valid URA identifier, else ``None``."""
        if not Ura.accepts_system(self.system):
            return None
        try:
            return Ura(self.value)
        except ValueError:
            return None

    def to_dict(self) -> dict[str, str]:
        """A FHIR ``Identifier`` dict."""
        return {"system": self.system, "value": self.value}


@attrs.frozen
class QueryInput:
    """A ``query-available-resources`` input: a concept (LOINC/SNOMED) and a relative search."""

    system: str
    code: str
    query: str
    display: str | None = None

    @classmethod
    def from_bgz(cls, query: BgzQuery) -> QueryInput:
        """The input for a BgZ query."""
        return cls(query.system, query.code, query.query, query.display)

    def to_fhir(self) -> dict[str, Any]:
        """The STU3 ``Task.input``."""
        coding = {"system": self.system, "code": self.code}
        if self.display:
            coding["display"] = self.display
        return {"type": {"coding": [coding]}, "valueString": self.query}


@attrs.frozen
class ReadInput:
    """A ``read-resource`` input: a relative reference (``Observation/123``) to one resource."""

    reference: str
    display: str | None = None

    def to_fhir(self) -> dict[str, Any]:
        """The STU3 ``Task.input``."""
        coding = {"system": naming.TASK_PARAMETER_SYSTEM, "code": READ_RESOURCE}
        if self.display:
            coding["display"] = self.display
        return {"type": {"coding": [coding]}, "valueReference": {"reference": self.reference}}


def _param_input(code: str, value_key: str, value: Any) -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": naming.TASK_PARAMETER_SYSTEM, "code": code}]},
        value_key: value,
    }


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("Notification Task timestamps must be timezone-aware")
    return moment.isoformat(timespec="seconds")


@attrs.frozen(repr=False)
class NotificationTask:
    """One Notification Task (STU3). The authorization base never appears in ``repr``."""

    identifier: str
    group_identifier: str
    owner: PartyId
    on_behalf_of: PartyId
    requester_agent: PartyId
    patient: Bsn | None = None
    authored_on: datetime | None = None
    valid_until: datetime | None = None
    based_on: str | None = None
    status: TaskStatus = "requested"
    intent: str = "proposal"
    authorization_base: str | None = None
    get_workflow_task: bool = False
    reads: tuple[ReadInput, ...] = ()
    queries: tuple[QueryInput, ...] = ()
    identifier_system: str = RFC3986_SYSTEM
    group_identifier_system: str = RFC3986_SYSTEM

    def __repr__(self) -> str:
        return (
            f"NotificationTask(identifier={self.identifier!r}, status={self.status!r}, "
            f"reads={len(self.reads)}, queries={len(self.queries)})"
        )

    @property
    def identifier_token(self) -> str:
        """``system|value`` of ``identifier``, for ``Task?identifier=`` searches."""
        return f"{self.identifier_system}|{self.identifier}"

    @property
    def sender_ura(self) -> Ura | None:
        """The sending organisation's URA (``requester.onBehalfOf``)."""
        return self.on_behalf_of.ura

    @property
    def owner_ura(self) -> Ura | None:
        """The receiving organisation's URA (``owner``)."""
        return self.owner.ura

    @property
    def workflow_task_id(self) -> str | None:
        """The logical id of the Workflow Task named in ``basedOn``."""
        if not self.based_on:
            return None
        return self.based_on.rstrip("/").rsplit("/", 1)[-1]

    def is_expired(self, now: datetime) -> bool:
        """True when ``restriction.period.end`` lies before ``now``."""
        return self.valid_until is not None and self.valid_until < now

    def to_fhir(self) -> dict[str, Any]:
        """The STU3 ``Task`` as a JSON-ready dict."""
        task: dict[str, Any] = {
            "resourceType": "Task",
            "identifier": [{"system": self.identifier_system, "value": self.identifier}],
            "groupIdentifier": {"system": self.group_identifier_system, "value": self.group_identifier},
        }
        if self.based_on:
            task["basedOn"] = [{"reference": self.based_on}]
        task["status"] = self.status
        task["intent"] = self.intent
        task["code"] = {
            "coding": [{"system": naming.TASK_CODE_SYSTEM, "code": naming.PULL_NOTIFICATION_CODE}]
        }
        if self.valid_until:
            task["restriction"] = {"period": {"end": _iso(self.valid_until)}}
        if self.patient:
            task["for"] = {"identifier": self.patient.to_dict()}
        if self.authored_on:
            task["authoredOn"] = _iso(self.authored_on)
        task["requester"] = {
            "agent": {"identifier": self.requester_agent.to_dict()},
            "onBehalfOf": {"identifier": self.on_behalf_of.to_dict()},
        }
        task["owner"] = {"identifier": self.owner.to_dict()}
        inputs: list[dict[str, Any]] = []
        if self.authorization_base is not None:
            inputs.append(_param_input(AUTHORIZATION_BASE, "valueString", self.authorization_base))
        if self.get_workflow_task:
            inputs.append(_param_input(GET_WORKFLOW_TASK, "valueBoolean", True))
        inputs.extend(r.to_fhir() for r in self.reads)
        inputs.extend(q.to_fhir() for q in self.queries)
        if inputs:
            task["input"] = inputs
        return task

    def cancellation(self) -> NotificationTask:
        """This Task with ``status = cancelled`` (the body of the conditional update)."""
        return attrs.evolve(self, status="cancelled")


def build_notification_task(
    *,
    sender: Ura,
    receiver: Ura,
    sending_system: PartyId,
    patient: Bsn | None,
    queries: Iterable[BgzQuery | QueryInput] = (),
    reads: Iterable[ReadInput | str] = (),
    authorization_base: str | None = None,
    valid_for: timedelta | None = timedelta(days=7),
    group_identifier: str | None = None,
    based_on: str | None = None,
    get_workflow_task: bool = False,
    now: datetime | None = None,
    identifier: str | None = None,
) -> NotificationTask:
    """A new ``requested`` Notification Task; reuse ``group_identifier`` for an update."""
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    query_inputs: Sequence[QueryInput] = tuple(
        QueryInput.from_bgz(q) if isinstance(q, BgzQuery) else q for q in queries
    )
    read_inputs = tuple(ReadInput(r) if isinstance(r, str) else r for r in reads)
    if get_workflow_task and not based_on:
        raise ValueError("get_workflow_task needs based_on (the Workflow Task reference)")
    return NotificationTask(
        identifier=identifier or new_uuid_identifier(),
        group_identifier=group_identifier or new_uuid_identifier(),
        owner=PartyId.of(receiver),
        on_behalf_of=PartyId.of(sender),
        requester_agent=sending_system,
        patient=patient,
        authored_on=moment,
        valid_until=moment + valid_for if valid_for is not None else None,
        based_on=based_on,
        authorization_base=authorization_base,
        get_workflow_task=get_workflow_task,
        reads=read_inputs,
        queries=tuple(query_inputs),
    )
