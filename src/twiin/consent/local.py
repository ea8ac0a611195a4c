"""A local consent register for plateaus 1-2: consents and objections kept by the data holder.

Records live in SQLite (stdlib ``sqlite3``; ``":memory:"`` or a file). A question is answered per
data category with the precedence rules of the Generic Functions IG (spec §1.1):

1. Only records for the patient apply, that are in force at the time of the question, and whose
   holder, requester, category and purpose either match or are left open.
2. The most specific record wins. Specificity compares, in order: the requester (a named
   organisation URA > an organisation type > anyone), the data category (the exact category > a
   covering higher category, e.g. GGC002 for GGC013 > any category), the purpose (named > any),
   and the holder (named > any).
3. At equal specificity an objection wins over a consent.
4. No applicable record means no consent: Deny (fail closed).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
import attrs

from twiin.consent.model import ConsentDecision, ConsentQuestion, DataCategory, Decision, Purpose
from twiin.errors import ConsentError
from twiin.identifiers import Bsn, ProviderType, Ura

__all__ = ["AsyncLocalConsentRegister", "ConsentRecord", "LocalConsentRegister"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent_record (
    id TEXT PRIMARY KEY,
    patient TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('consent', 'objection')),
    category TEXT,
    holder_ura TEXT,
    requester_ura TEXT,
    requester_type TEXT,
    purpose TEXT,
    valid_from TEXT,
    valid_until TEXT,
    recorded TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS consent_record_patient ON consent_record (patient);
"""


@attrs.frozen
class ConsentRecord:
    """One recorded consent (``objection=False``) or objection; ``None`` fields apply to anything."""

    patient: Bsn
    objection: bool
    category: DataCategory | None = None
    holder_ura: Ura | None = None
    requester_ura: Ura | None = None
    requester_type: ProviderType | None = None
    purpose: Purpose | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    id: str = attrs.field(factory=lambda: str(uuid.uuid4()))

    def applies(self, question: ConsentQuestion, category: DataCategory, at: datetime) -> bool:
        """True when this record is in force and about ``category`` of ``question``."""
        return (
            self.patient == question.patient
            and (self.category is None or self.category.covers(category))
            and self.holder_ura in (None, question.holder_ura)
            and self.requester_ura in (None, question.requester_ura)
            and self.requester_type in (None, question.requester_type)
            and self.purpose in (None, question.purpose)
            and (self.valid_from is None or self.valid_from <= at)
            and (self.valid_until is None or at < self.valid_until)
        )

    def specificity(self, category: DataCategory) -> tuple[int, int, int, int]:
        """Higher is more specific: (requester, category, purpose, holder)."""
        requester = 2 if self.requester_ura else 1 if self.requester_type else 0
        cat = 0 if self.category is None else 2 if self.category is category else 1
        return (requester, cat, 1 if self.purpose else 0, 1 if self.holder_ura else 0)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ConsentError("consent validity times must be timezone-aware")
    return moment.astimezone(UTC).isoformat()


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def evaluate(records: Sequence[ConsentRecord], question: ConsentQuestion, at: datetime) -> ConsentDecision:
    """Apply the precedence rules to ``records`` for every category of ``question``."""
    decisions: dict[DataCategory, Decision] = {}
    for category in question.categories:
        applicable = [r for r in records if r.applies(question, category, at)]
        if not applicable:
            decisions[category] = Decision.DENY
            continue
        best = max(r.specificity(category) for r in applicable)
        winners = [r for r in applicable if r.specificity(category) == best]
        decisions[category] = Decision.DENY if any(r.objection for r in winners) else Decision.PERMIT
    return ConsentDecision(question.categories, decisions, source="local")


class LocalConsentRegister:
    """SQLite-backed consent register implementing :class:`~twiin.consent.ConsentChecker`."""

    def __init__(self, path: str | Path = ":memory:", *, clock: Callable[[], datetime] | None = None) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._clock = clock or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:
        return "LocalConsentRegister()"

    def add(self, record: ConsentRecord) -> ConsentRecord:
        """Store ``record`` and return it."""
        if record.valid_from and record.valid_until and record.valid_until <= record.valid_from:
            raise ConsentError("valid_until must be after valid_from")
        row = (
            record.id,
            record.patient.value,
            "objection" if record.objection else "consent",
            record.category.code if record.category else None,
            record.holder_ura.value if record.holder_ura else None,
            record.requester_ura.value if record.requester_ura else None,
            record.requester_type.value if record.requester_type else None,
            record.purpose.value if record.purpose else None,
            _iso(record.valid_from),
            _iso(record.valid_until),
            _iso(self._clock()),
        )
        with self._lock:
            self._db.execute("INSERT INTO consent_record VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)
        return record

    def record_consent(self, patient: Bsn, **scope: object) -> ConsentRecord:
        """Record an explicit consent; ``scope`` takes the optional :class:`ConsentRecord` fields."""
        return self.add(ConsentRecord(patient, False, **scope))  # type: ignore[arg-type]

    def record_objection(self, patient: Bsn, **scope: object) -> ConsentRecord:
        """Record an objection (negative consent); ``scope`` as for :meth:`record_consent`."""
        return self.add(ConsentRecord(patient, True, **scope))  # type: ignore[arg-type]

    def revoke(self, record_id: str) -> bool:
        """Delete a record; True when it existed."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM consent_record WHERE id = ?", (record_id,))
        return cursor.rowcount > 0

    def records(self, patient: Bsn) -> list[ConsentRecord]:
        """Every record about ``patient``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, category, holder_ura, requester_ura, requester_type, purpose, valid_from,"
                " valid_until FROM consent_record WHERE patient = ? ORDER BY recorded, id",
                (patient.value,),
            ).fetchall()
        return [
            ConsentRecord(
                patient=patient,
                objection=kind == "objection",
                category=DataCategory(cat) if cat else None,
                holder_ura=Ura(holder) if holder else None,
                requester_ura=Ura(req) if req else None,
                requester_type=ProviderType(rtype) if rtype else None,
                purpose=Purpose(purpose) if purpose else None,
                valid_from=_dt(vfrom),
                valid_until=_dt(vuntil),
                id=rid,
            )
            for rid, kind, cat, holder, req, rtype, purpose, vfrom, vuntil in rows
        ]

    def check(self, question: ConsentQuestion) -> ConsentDecision:
        """Answer ``question`` from the register (Deny where nothing applies)."""
        return evaluate(self.records(question.patient), question, self._clock())

    def close(self) -> None:
        """Close the database."""
        self._db.close()


class AsyncLocalConsentRegister:
    """Async facade over a :class:`LocalConsentRegister` (SQLite runs in a worker thread)."""

    def __init__(self, register: LocalConsentRegister) -> None:
        self.register = register

    async def check(self, question: ConsentQuestion) -> ConsentDecision:
        """Answer ``question`` from the register."""
        return await anyio.to_thread.run_sync(self.register.check, question)
