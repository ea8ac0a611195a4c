"""A complete BgZ Notified Pull on a running sandbox network, one reported step at a time.

:func:`run_demo` drives the built-in GtKs of a network (the hospital sends, the GP practice
receives): directory lookup, consent check, notification (authorization base, token, Task),
acceptance, pull of the 29 BgZ queries with a token carrying the authorization base, then the
same exchange for the patient without consent, whose pull must be refused. It reports each step
as it happens and returns a :class:`DemoReport`; ``twiin demo`` prints it. Nothing reported
contains a full BSN, a token or an authorization base value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from twiin.addressing import AddressResolver
from twiin.audit import AuditEvent, JsonLinesSink
from twiin.auth import ClientCredentialsAuth
from twiin.errors import NotAuthorizedError, TwiinError
from twiin.exchange.notified_pull import (
    BGZ_SERVER_PAYLOAD,
    NOTIFICATION_PAYLOAD,
    ConsentRequest,
    InputResult,
    Notification,
    NotificationSender,
    Puller,
    PullResult,
    PullServer,
    Receipt,
)
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Bsn
from twiin.sandbox.network import Sandbox
from twiin.sandbox.participants import GP, HOSPITAL, NO_CONSENT, WITH_CONSENT
from twiin.usecases import bgz

__all__ = ["DemoNetwork", "DemoReport", "DemoStep", "PulledQuery", "run_demo", "start_network"]


class DemoNetwork(Protocol):
    """What the demo needs of a network: the built-in GtKs' blocks (sandbox attribute names)."""

    @property
    def sender(self) -> NotificationSender: ...
    @property
    def puller(self) -> Puller: ...
    @property
    def resolver(self) -> AddressResolver: ...
    @property
    def guard(self) -> PullServer: ...
    @property
    def accepted(self) -> Sequence[Notification]: ...
    @property
    def notify_auths(self) -> Sequence[ClientCredentialsAuth]: ...
    @property
    def sender_audit(self) -> object: ...
    @property
    def receiver_audit(self) -> object: ...


@attrs.frozen
class DemoStep:
    """One step of the demo and whether it behaved as expected."""

    name: str
    ok: bool
    detail: str


@attrs.frozen
class PulledQuery:
    """One BgZ query of the pull: what came back."""

    query: str
    display: str
    resource_types: tuple[str, ...]
    count: int
    status: str


@attrs.define
class DemoReport:
    """Every step, the pulled queries and the audit files."""

    steps: list[DemoStep] = attrs.field(factory=list)
    pulled: list[PulledQuery] = attrs.field(factory=list)
    audit: list[str] = attrs.field(factory=list)
    resources: int = 0
    complete: bool = False

    @property
    def ok(self) -> bool:
        """True when every step ran and behaved as expected (the refused pull included)."""
        return self.complete and all(s.ok for s in self.steps)

    def summary(self) -> dict[str, Any]:
        """The JSON summary of ``twiin demo --json``."""
        return {
            "ok": self.ok,
            "steps": [attrs.asdict(s) for s in self.steps],
            "queries": len([q for q in self.pulled if q.status == "ok"]),
            "resources": self.resources,
            "failures": [{"query": q.query, "status": q.status} for q in self.pulled if q.status != "ok"],
            "pulled": [{**attrs.asdict(q), "resource_types": list(q.resource_types)} for q in self.pulled],
            "audit": list(self.audit),
        }


class _Aborted(Exception):
    """A step failed in a way that makes the following steps meaningless."""


def _error(exc: BaseException) -> str:
    if isinstance(exc, _Aborted):
        return str(exc)
    status = getattr(exc, "status", None)
    return f"{type(exc).__name__} ({status})" if status else type(exc).__name__


class _Run:
    def __init__(self, net: DemoNetwork, on_step: Callable[[DemoStep, DemoReport], None]) -> None:
        self.net = net
        self.report = DemoReport()
        self._on_step = on_step

    def step(self, name: str, ok: bool, detail: str) -> None:
        step = DemoStep(name, ok, detail)
        self.report.steps.append(step)
        self._on_step(step, self.report)
        if not ok:
            raise _Aborted(name)

    def lookup(self) -> None:
        try:
            stu3 = FhirVersion.STU3
            task_endpoint = self.net.resolver.resolve(GP.ura, NOTIFICATION_PAYLOAD, fhir_version=stu3)
            bgz_endpoint = self.net.resolver.resolve(HOSPITAL.ura, BGZ_SERVER_PAYLOAD, fhir_version=stu3)
        except TwiinError as exc:
            self.step("directory lookup", False, _error(exc))
            return
        self.step("directory lookup", True,
                  f"gp {GP.ura} notification endpoint {task_endpoint[0].address}; "
                  f"hospital {HOSPITAL.ura} BgZ endpoint {bgz_endpoint[0].address}")  # fmt: skip

    def consent(self, patient: Bsn) -> bool:
        question = ConsentRequest(patient, GP.ura, HOSPITAL.ura, "Patient")
        try:
            return self.net.guard.consent(question) is True
        except Exception:  # a failing consent service denies (fail closed)
            return False

    def notify(self, patient: Bsn) -> tuple[Receipt, Notification]:
        receipt = self.net.sender.notify(GP.ura, patient, bgz.QUERIES)
        found = [n for n in self.net.accepted if n.task.identifier == receipt.task.identifier]
        if not found:
            raise _Aborted("the receiver did not keep the notification")
        return receipt, found[-1]

    def exchange(self) -> None:
        permitted = self.consent(WITH_CONSENT)
        answer = "Permit" if permitted else "Deny"
        self.step(
            "consent check",
            permitted,
            f"patient {WITH_CONSENT}: {answer} for gp {GP.ura} at hospital {HOSPITAL.ura}",
        )
        try:
            receipt, notification = self.notify(WITH_CONSENT)
        except (TwiinError, _Aborted) as exc:
            self.step("notification", False, _error(exc))
            return
        base = receipt.authorization_base
        self.step("authorization base", True,
                  f"id {base.id[:12]}... for gp {base.receiver}: {len(base.queries)} queries, "
                  f"valid until {base.expires_at:%Y-%m-%d %H:%M} UTC")  # fmt: skip
        fetched = bool(self.net.notify_auths) and self.net.notify_auths[-1].cached_token() is not None
        self.step("token", fetched,
                  "client_credentials (private_key_jwt) token from the gp token endpoint"
                  if fetched else "no token was obtained for the notification")  # fmt: skip
        self.step("notification", receipt.status in (200, 201),
                  f"POST {receipt.endpoint}/Task -> HTTP {receipt.status}")  # fmt: skip
        task = notification.task
        self.step("receiver accepts", not notification.cancelled,
                  f"Task {notification.local_id} from {notification.sender}: {len(task.queries)} queries, "
                  f"{len(notification.warnings)} warnings")  # fmt: skip
        try:
            result = self.net.puller.pull(notification)
        except TwiinError as exc:
            self.step("pull", False, _error(exc))
            return
        queries = [r for r in result.results if r.step.kind == "query"]
        self.report.pulled = [_row(r) for r in queries]
        self.report.resources = len(result.resources())
        token_ok = any(r.ok for r in queries)
        self.step("token with authorization base", token_ok,
                  "from the hospital token endpoint (RFC 7523 JWT grant carrying the authorization base), "
                  "bound to the gp certificate"
                  if token_ok else "no query was answered")  # fmt: skip
        self.step("pull", result.ok and len(queries) == len(bgz.QUERIES), _pull_detail(result, queries))

    def refused(self) -> None:
        permitted = self.consent(NO_CONSENT)
        try:
            _, notification = self.notify(NO_CONSENT)
            result = self.net.puller.pull(notification)
        except (TwiinError, _Aborted) as exc:
            self.step("no-consent pull refused", False, _error(exc))
            return
        queries = [r for r in result.results if r.step.kind == "query"]
        refused = [r for r in queries if isinstance(r.error, NotAuthorizedError) and r.error.status == 403]
        leaked = sum(len(r.resources) for r in queries)
        ok = not permitted and bool(queries) and len(refused) == len(queries) and leaked == 0
        answer = "Permit" if permitted else "Deny"
        self.step("no-consent pull refused", ok,
                  f"patient {NO_CONSENT}: consent {answer}; {len(refused)} of {len(queries)} "
                  f"queries refused with 403, {leaked} resources returned")  # fmt: skip

    def audit(self, audit_dir: Path) -> None:
        files = {"hospital": _audit_file(self.net.sender_audit, audit_dir / "hospital-audit.jsonl"),
                 "gp": _audit_file(self.net.receiver_audit, audit_dir / "gp-audit.jsonl")}  # fmt: skip
        written = {name: path for name, path in files.items() if path is not None and path.is_file()}
        self.report.audit = [str(path) for path in written.values()]
        detail = "; ".join(f"{name}: {_lines(path)} events in {path}" for name, path in written.items())
        self.step("audit trail", len(written) == len(files), detail or "no audit files")


def _row(result: InputResult) -> PulledQuery:
    query = result.step.input
    display = getattr(query, "display", None) or result.step.target
    types = tuple(sorted({str(r.get("resourceType")) for r in result.resources}))
    status = "ok" if result.error is None else _error(result.error)
    return PulledQuery(result.step.target, display, types, len(result.resources), status)


def _pull_detail(result: PullResult, queries: list[InputResult]) -> str:
    ok = len([r for r in queries if r.ok])
    return (f"{ok} of {len(queries)} BgZ queries from {result.base_url}, "
            f"{len(result.resources())} distinct resources, {len(result.failures)} failures")  # fmt: skip


def _lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def _audit_file(sink: object, fallback: Path) -> Path | None:
    """The file holding ``sink``'s events: its own (or its ``file`` sink's) path, else ``fallback``."""
    for holder in (sink, getattr(sink, "file", None)):
        path = getattr(holder, "path", None)
        if isinstance(path, Path):
            return path
    events: list[AuditEvent] | None = getattr(sink, "events", None)
    if events is None:
        return None
    fallback.parent.mkdir(parents=True, exist_ok=True)
    fallback.unlink(missing_ok=True)
    out = JsonLinesSink(fallback)
    for event in events:
        out.emit(event)
    return fallback


def run_demo(
    net: DemoNetwork, audit_dir: Path, on_step: Callable[[DemoStep, DemoReport], None] | None = None
) -> DemoReport:
    """Run the demo on ``net``; ``on_step`` sees each step (and the report so far) as it finishes.

    A failed step ends the run and is in the report; only unexpected errors raise.
    """
    run = _Run(net, on_step or (lambda step, report: None))
    try:
        run.lookup()
        run.exchange()
        run.refused()
        run.audit(audit_dir)
        run.report.complete = True
    except _Aborted:
        pass
    return run.report


def start_network(directory: Path) -> Sandbox:
    """The sandbox with its files (and audit trail) in ``directory``, kept after it stops.

    A context manager: entering starts the network, leaving stops it.
    """
    return Sandbox(directory)
