from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent

from twiin.audit import Auditor, JsonLinesSink, LoggingSink, MemorySink, Pseudonymizer, to_fhir_audit_event
from twiin.identifiers import Bsn, Ura


def make(sink) -> Auditor:  # type: ignore[no-untyped-def]
    fixed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Auditor(sink, Pseudonymizer(b"0123456789abcdef"), "ehr-x", Ura("1"), clock=lambda: fixed)


def test_fhir_rendering_validates() -> None:
    sink = MemorySink()
    event = make(sink).record(
        "notified-pull.pull",
        "success",
        patient=Bsn("999999151"),
        peer=Ura("2"),
        resource="Patient",
        query="Patient?_id=1",
    )
    resource = to_fhir_audit_event(event)
    model = FhirAuditEvent.model_validate(resource)
    assert model.outcome == "0"
    assert "999999151" not in json.dumps(resource)
    assert sink.actions() == ["notified-pull.pull"]


def test_json_lines_sink(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    auditor = make(JsonLinesSink(path))
    auditor.record("a", "success")
    auditor.record("b", "denied", detail="no consent")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["action"] for x in lines] == ["a", "b"]
    assert lines[1]["outcome"] == "denied"


def test_sink_failure_does_not_break_the_exchange() -> None:
    class Broken:
        def emit(self, event: object) -> None:
            raise OSError("disk full")

    event = make(Broken()).record("x", "failure")
    assert event.action == "x"


def test_logging_sink(caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    with caplog.at_level(logging.INFO, logger="twiin.audit"):
        make(LoggingSink()).record("y", "success", patient=Bsn("999999151"))
    assert '"action": "y"' in caplog.text
    assert "999999151" not in caplog.text
