"""Audit events for every exchange step, and the sinks that store them.

The patient appears only as a keyed pseudonym (HMAC-SHA-256 of the BSN under a key the node
keeps), so an audit trail can be correlated per patient without holding BSNs. Events render
as FHIR R4 ``AuditEvent`` resources for NEN 7513-style logging.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import attrs

from twiin import naming
from twiin.identifiers import Bsn, Ura
from twiin.redaction import get_logger, redact

__all__ = [
    "AuditEvent",
    "AuditSink",
    "Auditor",
    "JsonLinesSink",
    "LoggingSink",
    "MemorySink",
    "Outcome",
    "Pseudonymizer",
    "to_fhir_audit_event",
]

Outcome = Literal["success", "failure", "denied"]


@attrs.frozen
class AuditEvent:
    """One exchange step: who, on behalf of whom, which patient (pseudonym), what, when, outcome."""

    action: str
    outcome: Outcome
    recorded: datetime
    actor_system: str
    actor_ura: str
    actor_professional: str | None = None
    peer_ura: str | None = None
    patient_pseudonym: str | None = None
    resource: str | None = None
    query: str | None = None
    correlation_id: str | None = None
    detail: str | None = None
    event_id: str = attrs.field(factory=lambda: str(uuid.uuid4()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``recorded`` as ISO 8601)."""
        data = attrs.asdict(self)
        data["recorded"] = self.recorded.isoformat()
        return data


class AuditSink(Protocol):
    """Where audit events go. Implementations must not raise on a single bad event."""

    def emit(self, event: AuditEvent) -> None:
        """Store ``event``."""


class LoggingSink:
    """Writes each event as one JSON log line on the ``twiin.audit`` logger."""

    def __init__(self, logger_name: str = "twiin.audit") -> None:
        self._log = get_logger(logger_name)

    def emit(self, event: AuditEvent) -> None:
        self._log.info("%s", json.dumps(event.to_dict(), sort_keys=True))


class JsonLinesSink:
    """Appends each event as a JSON line to a file (thread-safe)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def emit(self, event: AuditEvent) -> None:
        line = redact(json.dumps(event.to_dict(), sort_keys=True))
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


class MemorySink:
    """Keeps events in a list; for tests and the sandbox."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self._lock = threading.Lock()

    def emit(self, event: AuditEvent) -> None:
        with self._lock:
            self.events.append(event)

    def actions(self) -> list[str]:
        """The recorded actions, in order."""
        return [e.action for e in self.events]


class Pseudonymizer:
    """Keyed pseudonyms of BSNs (HMAC-SHA-256, hex, 32 characters)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("pseudonym key must be at least 16 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "Pseudonymizer(<key>)"

    def __call__(self, bsn: Bsn) -> str:
        return hmac.new(self._key, bsn.value.encode("ascii"), hashlib.sha256).hexdigest()[:32]


@attrs.define
class Auditor:
    """Builds and emits :class:`AuditEvent` values for one node."""

    sink: AuditSink
    pseudonymize: Pseudonymizer
    actor_system: str
    actor_ura: Ura
    clock: Callable[[], datetime] = attrs.field(default=lambda: datetime.now(UTC))

    def record(
        self,
        action: str,
        outcome: Outcome,
        *,
        patient: Bsn | None = None,
        peer: Ura | None = None,
        professional: str | None = None,
        resource: str | None = None,
        query: str | None = None,
        correlation_id: str | None = None,
        detail: str | None = None,
    ) -> AuditEvent:
        """Emit one event; sink failures are logged, never raised into the exchange."""
        event = AuditEvent(
            action=action,
            outcome=outcome,
            recorded=self.clock(),
            actor_system=self.actor_system,
            actor_ura=self.actor_ura.value,
            actor_professional=professional,
            peer_ura=peer.value if peer else None,
            patient_pseudonym=self.pseudonymize(patient) if patient else None,
            resource=resource,
            query=redact(query) if query else None,
            correlation_id=correlation_id,
            detail=redact(detail) if detail else None,
        )
        try:
            self.sink.emit(event)
        except Exception:
            get_logger("twiin.audit").exception("audit sink failed for %s", action)
        return event


_OUTCOME_CODES = {"success": "0", "denied": "4", "failure": "8"}


def to_fhir_audit_event(event: AuditEvent) -> dict[str, Any]:
    """The event as a FHIR R4 ``AuditEvent`` (JSON dict; validates with ``fhir.resources.R4B``)."""
    agents: list[dict[str, Any]] = [
        {
            "who": {"identifier": {"system": naming.URA_SYSTEM, "value": event.actor_ura}},
            "name": event.actor_system,
            "requestor": True,
        }
    ]
    if event.actor_professional:
        agents.append(
            {
                "who": {"identifier": {"system": naming.UZI_SYSTEM, "value": event.actor_professional}},
                "requestor": True,
            }
        )
    if event.peer_ura:
        agents.append(
            {
                "who": {"identifier": {"system": naming.URA_SYSTEM, "value": event.peer_ura}},
                "requestor": False,
            }
        )
    entities: list[dict[str, Any]] = []
    if event.patient_pseudonym:
        entities.append(
            {
                "what": {
                    "identifier": {"system": "urn:twiin:patient-pseudonym", "value": event.patient_pseudonym}
                },
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"},
                "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"},
            }
        )
    if event.resource or event.query:
        entity: dict[str, Any] = {
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2"}
        }
        if event.resource:
            entity["what"] = {"display": event.resource}
        if event.query:
            entity["query"] = _b64(event.query)
        entities.append(entity)
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": event.event_id,
        "type": {"system": "urn:twiin:audit-action", "code": event.action},
        "recorded": event.recorded.isoformat(),
        "outcome": _OUTCOME_CODES[event.outcome],
        "agent": agents,
        "source": {
            "observer": {"identifier": {"system": naming.URA_SYSTEM, "value": event.actor_ura}},
            "site": event.actor_system,
        },
    }
    if event.detail:
        resource["outcomeDesc"] = event.detail
    if entities:
        resource["entity"] = entities
    return resource


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode("utf-8")).decode("ascii")
