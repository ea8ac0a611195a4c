"""Pull (direct query), sans-I/O: consent first, then where to ask, what to ask, typed results.

:meth:`DirectPullCore.plan` asks the consent check once per resource type before anything is
sent; a query whose data is not Permitted gets a :class:`~twiin.errors.ConsentDenied` result
and is never sent (fail closed: an error in the check counts as Deny). Only when some query is
permitted does it resolve the holder's endpoint and take the token auth. Each query is scoped to
the patient (``patient.identifier=<bsn>``, ``identifier=<bsn>`` on ``Patient``) unless the core
is told otherwise, runs through :mod:`twiin.fhir` paging (same-origin guard, page limit), and
ends as one :class:`QueryResult` -- a partial failure is visible, never hidden.

Spec notes (``spec/twiin-core.md``): the Twiin sources name Pull ("gericht bevragen") as a
pattern (§1.2); BgZ lists "Direct Pull" as informative only, "not for implementation in Twiin
1.2" (§1.4), and no Pull TTA text is in the sources. What applies is the generic Twiin
transport (mTLS 1.3, UZI certificates, ``Authorization: Bearer``, §6) and, for BgZ, the BgZ
server payload type of the addressing code system. How the holder learns the patient is not
specified; scoping by BSN search parameter is the FHIR way, and ``patient_scope=None`` leaves
queries as given for holders that take the patient from the token instead. Mitz consent is a
question the *holder* asks; checking it here as well (before sending) is the fail-closed
requester-side guard the brief asks for, not a replacement for the holder's own check.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

import attrs

from twiin._http.compat import httpx
from twiin.addressing import AddressResolver, PayloadType, payload_types
from twiin.audit import Auditor, Outcome
from twiin.errors import ConfigurationError, ConsentDenied, TwiinError
from twiin.exchange.notified_pull.ports import AuthFor, ConsentCheck, ConsentRequest
from twiin.fhir import FhirResult, entry_resources
from twiin.fhir.content import parse_resource
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Bsn, Ura
from twiin.usecases.bgz import BgzQuery, parse_query

__all__ = [
    "DirectPullCore",
    "DirectPullResult",
    "PullPlan",
    "PullQuery",
    "QueryResult",
    "scope_to_patient",
]


@attrs.frozen
class PullQuery:
    """One search relative to the holder's FHIR base (``Type?params`` or ``Type/$op?params``)."""

    query: str
    resource_type: str
    name: str | None = None

    @classmethod
    def of(cls, value: PullQuery | BgzQuery | str) -> PullQuery:
        """A query from a string, a BgZ query or itself; ``ConfigurationError`` when malformed."""
        if isinstance(value, PullQuery):
            return value
        text, name = (value.query, value.display) if isinstance(value, BgzQuery) else (value, None)
        try:
            parsed = parse_query(text)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConfigurationError("queries", f"not a relative FHIR search: {exc}") from None
        return cls(text, parsed.resource_type, name)


def scope_to_patient(query: str, patient: Bsn) -> str:
    """``query`` restricted to ``patient``: ``identifier`` on Patient, else ``patient.identifier``."""
    name = "identifier" if parse_query(query).resource_type == "Patient" else "patient.identifier"
    separator = "&" if "?" in query else "?"
    return f"{query}{separator}{urlencode({name: patient.to_token()})}"


@attrs.frozen(repr=False)
class QueryResult:
    """The outcome of one query: resources of every page (includes too), raw pages, or the error."""

    query: PullQuery
    resources: tuple[dict[str, Any], ...] = ()
    pages: tuple[dict[str, Any], ...] = ()
    error: TwiinError | None = None

    def __repr__(self) -> str:  # the resources carry the patient's BSN: counts only
        error = type(self.error).__name__ if self.error is not None else None
        return f"QueryResult({self.query.resource_type}, resources={len(self.resources)}, error={error})"

    @property
    def ok(self) -> bool:
        """True when the query ran completely."""
        return self.error is None

    @property
    def denied(self) -> bool:
        """True when consent stopped this query before it was sent."""
        return isinstance(self.error, ConsentDenied)

    def models(self, version: FhirVersion) -> list[Any]:
        """The resources as ``fhir.resources`` models of ``version``."""
        return [parse_resource(r, version) for r in self.resources]


@attrs.frozen(repr=False)
class DirectPullResult:
    """A direct pull: one :class:`QueryResult` per query, in the order asked."""

    holder: Ura
    base_url: str | None
    version: FhirVersion | None
    results: tuple[QueryResult, ...]

    def __repr__(self) -> str:
        return f"DirectPullResult({len(self.results)} queries, {len(self.failures)} failed)"

    @property
    def ok(self) -> bool:
        """True when every query ran completely."""
        return all(r.ok for r in self.results)

    @property
    def denied(self) -> bool:
        """True when consent stopped every query (nothing was sent)."""
        return bool(self.results) and all(r.denied for r in self.results)

    @property
    def failures(self) -> tuple[QueryResult, ...]:
        """The queries that were denied or failed."""
        return tuple(r for r in self.results if not r.ok)

    def resources(self, resource_type: str | None = None) -> list[dict[str, Any]]:
        """Every fetched resource once (by type and id), optionally only of ``resource_type``."""
        seen: set[tuple[str, str]] = set()
        out: list[dict[str, Any]] = []
        for result in self.results:
            for res in result.resources:
                key = (str(res.get("resourceType")), str(res.get("id")))
                if key not in seen and (resource_type is None or key[0] == resource_type):
                    seen.add(key)
                    out.append(res)
        return out

    def for_query(self, query: PullQuery | BgzQuery | str) -> QueryResult:
        """The result of ``query`` (``KeyError`` when it was not asked)."""
        wanted = PullQuery.of(query).query
        for result in self.results:
            if result.query.query == wanted:
                return result
        raise KeyError(wanted)

    def raise_for_errors(self) -> DirectPullResult:
        """Raise the first query's error (``ConsentDenied``, ``NotAuthorizedError``, ...), if any."""
        for result in self.results:
            if result.error is not None:
                raise result.error
        return self


@attrs.frozen(repr=False)
class PullPlan:
    """A pull after the consent check: what to send where, and what was already denied."""

    holder: Ura
    patient: Bsn
    correlation_id: str
    queries: tuple[PullQuery, ...]
    send: tuple[tuple[PullQuery, str], ...]
    denied: tuple[QueryResult, ...]
    base_url: str | None = None
    version: FhirVersion | None = None
    auth: httpx.Auth | None = None

    def __repr__(self) -> str:
        return f"PullPlan({len(self.send)} to send, {len(self.denied)} denied)"


@attrs.define
class DirectPullCore:
    """The I/O-free part of a direct pull: consent, addressing, scoping, folding, audit."""

    our_ura: Ura
    resolver: AddressResolver
    consent: ConsentCheck
    auth_for: AuthFor | None = None
    auditor: Auditor | None = None
    payload_type: PayloadType | str = payload_types.BGZ_SERVER
    fhir_version: FhirVersion | None = None
    patient_scope: Callable[[str, Bsn], str] | None = scope_to_patient
    concurrency: int = 4
    max_pages: int = 100

    def plan(self, holder: Ura, patient: Bsn, queries: Iterable[PullQuery | BgzQuery | str]) -> PullPlan:
        """Check consent per resource type, then (if anything is allowed) resolve and take the auth."""
        items = tuple(PullQuery.of(q) for q in queries)
        if not items:
            raise ConfigurationError("queries", "a pull needs at least one query")
        correlation = str(uuid.uuid4())
        types = {q.resource_type for q in items}
        allowed = {t: self._permitted(holder, patient, t, correlation) for t in types}
        denied = tuple(
            self._audited(QueryResult(q, error=ConsentDenied(resource_type=q.resource_type)), holder,
                          patient, correlation)
            for q in items if not allowed[q.resource_type]
        )  # fmt: skip
        scope = self.patient_scope
        send = tuple(
            (q, scope(q.query, patient) if scope else q.query) for q in items if allowed[q.resource_type]
        )
        plan = PullPlan(holder, patient, correlation, items, send, denied)
        if not send:
            return plan
        payload = PayloadType.parse(self.payload_type)
        endpoint = self.resolver.resolve(holder, payload, fhir_version=self.fhir_version)[0]
        version = endpoint.fhir_version or payload.fhir_version or self.fhir_version or FhirVersion.R4
        auth = self.auth_for(holder, endpoint.address) if self.auth_for else None
        return attrs.evolve(plan, base_url=endpoint.address, version=version, auth=auth)

    def _permitted(self, holder: Ura, patient: Bsn, resource_type: str, correlation: str) -> bool:
        try:
            allowed = self.consent(ConsentRequest(patient, self.our_ura, holder, resource_type)) is True
        except Exception:  # fail closed: any failure of the check is a Deny
            allowed = False
        self._record("pull.consent", "success" if allowed else "denied", holder, patient,
                     correlation, query=resource_type)  # fmt: skip
        return allowed

    def query_result(
        self, plan: PullPlan, query: PullQuery, pages: Sequence[FhirResult], error: TwiinError | None = None
    ) -> QueryResult:
        """Fold the pages fetched for ``query`` (and the error that stopped it) into its result."""
        bodies = tuple(p.json for p in pages if p.json is not None)
        resources = tuple(r for body in bodies for r in entry_resources(body))
        result = QueryResult(query, resources, bodies, error)
        return self._audited(result, plan.holder, plan.patient, plan.correlation_id)

    def finish(self, plan: PullPlan, results: Iterable[QueryResult]) -> DirectPullResult:
        """The result in the order asked; audits the pull as a whole."""
        by_query = {id(r.query): r for r in (*plan.denied, *results)}
        ordered = tuple(by_query[id(q)] for q in plan.queries)
        failed = sum(not r.ok for r in ordered)
        outcome: Outcome = "denied" if plan.denied and not plan.send else "failure" if failed else "success"
        self._record("pull", outcome, plan.holder, plan.patient, plan.correlation_id,
                     detail=f"{len(ordered) - failed} ok, {failed} failed")  # fmt: skip
        return DirectPullResult(plan.holder, plan.base_url, plan.version, ordered)

    def failed(self, holder: Ura, patient: Bsn, error: TwiinError) -> None:
        """Audit a pull that could not start (addressing or configuration)."""
        self._record("pull", "failure", holder, patient, None, detail=type(error).__name__)

    def _audited(self, result: QueryResult, holder: Ura, patient: Bsn, correlation: str) -> QueryResult:
        outcome: Outcome = "success" if result.ok else "denied" if result.denied else "failure"
        detail = None if result.error is None else type(result.error).__name__
        self._record(
            "pull.query", outcome, holder, patient, correlation, query=result.query.query, detail=detail
        )
        return result

    def _record(
        self, action: str, outcome: Outcome, holder: Ura, patient: Bsn, correlation: str | None, *,
        query: str | None = None, detail: str | None = None,
    ) -> None:  # fmt: skip
        if self.auditor is not None:
            self.auditor.record(
                action, outcome, patient=patient, peer=holder, query=query,
                correlation_id=correlation, detail=detail,
            )  # fmt: skip
