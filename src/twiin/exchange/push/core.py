"""Push, sans-I/O: find the receiver's endpoint, build the POST, read the answer into a receipt.

A ``transaction`` or ``batch`` Bundle is POSTed to the receiver's FHIR base; the answer's
entries are paired with the request's through :func:`twiin.fhir.correlate`. A ``message``
Bundle (first entry a ``MessageHeader`` with an id) is POSTed to ``[base]/$process-message``;
the response message must point back to our MessageHeader, and a ``transient-error`` or
``fatal-error`` answer raises :class:`~twiin.errors.MessageRejected`. A non-2xx answer raises
the typed FHIR error of :func:`twiin.fhir.error_for_response` (``NotAuthorizedError`` for
401/403, ``UnprocessableError`` for 422, ``ServerError`` for 5xx, ...) with its
OperationOutcome.

We hold the data we push, so ``consent`` is a required argument: with a check, every resource
type in the Bundle needs a Permit for the receiver before anything is resolved or sent (fail
closed, like Pull), otherwise :class:`~twiin.errors.ConsentDenied` is raised and nothing leaves;
skipping the check takes an explicit ``consent=None``.

Spec notes (``spec/twiin-core.md``): the Twiin sources name Push ("gericht verzenden") as a
pattern (§1.2) but give no FHIR TTA for it; the one Push use case listed (Beeldbeschikbaarheid,
§1.4) is IHE XDS over SOAP, outside this SDK. What applies is the generic Twiin transport:
mTLS 1.3 with UZI server certificates and ``Authorization: Bearer`` on every request (§6.1,
§6.2). No payload type code for a push receiver exists in the addressing code system, so the
caller names one (``payload_type``) for the resolver.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from twiin._http.compat import httpx
from twiin.addressing import AddressResolver, PayloadType, ResolvedEndpoint
from twiin.audit import Auditor, Outcome
from twiin.errors import ConfigurationError, ConsentDenied, MessageRejected, ModelValidationError, TwiinError
from twiin.exchange.notified_pull.ports import AuthFor, ConsentCheck, ConsentRequest
from twiin.fhir import Call, EntryResult, FhirCore, FhirResult, TransactionResult
from twiin.fhir.content import to_dict
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Bsn, Ura

__all__ = ["BUNDLE_TYPES", "PushCore", "PushPlan", "PushReceipt", "message_outcome"]

BUNDLE_TYPES = ("transaction", "batch", "message")


@attrs.frozen(repr=False)
class PushReceipt:
    """What the receiver answered: the response, and per request entry its outcome.

    ``transaction`` pairs every request entry with its response entry (transaction and batch).
    For a message, ``message_code`` is ``ok``, or ``None`` when the receiver only accepted the
    message for later processing (e.g. ``202 Accepted`` without a response message).
    """

    receiver: Ura
    endpoint: str
    bundle_type: str
    result: FhirResult
    transaction: TransactionResult | None = None
    message_code: str | None = None

    def __repr__(self) -> str:
        return f"PushReceipt({self.bundle_type}, status={self.status}, entries={len(self.entries)})"

    @property
    def status(self) -> int:
        """The HTTP status of the receiver's answer."""
        return self.result.status

    @property
    def response(self) -> dict[str, Any] | None:
        """The response body (a Bundle) as FHIR JSON, if there was one."""
        return self.result.json

    @property
    def entries(self) -> tuple[EntryResult, ...]:
        """One outcome per request entry, in request order (empty for a message)."""
        return self.transaction.entries if self.transaction else ()

    @property
    def ok(self) -> bool:
        """True when every entry succeeded (a batch may fail per entry)."""
        return self.transaction.ok if self.transaction else True

    @property
    def failures(self) -> tuple[EntryResult, ...]:
        """The entries that failed (only a batch has these)."""
        return tuple(e for e in self.entries if not e.ok)

    def by_full_url(self, full_url: str) -> EntryResult:
        """The outcome of the request entry with ``full_url`` (e.g. a builder's ``urn:uuid:``)."""
        if self.transaction is None:
            raise KeyError(full_url)
        return self.transaction.by_full_url(full_url)

    def raise_for_errors(self) -> PushReceipt:
        """Raise ``FHIRError`` for the first failed entry; returns the receipt otherwise."""
        if self.transaction is not None:
            self.transaction.raise_for_errors()
        return self


@attrs.frozen
class PushPlan:
    """One push, ready to send: where, with which auth, and how to read the answer."""

    receiver: Ura
    endpoint: ResolvedEndpoint
    version: FhirVersion
    bundle_type: str
    call: Call[PushReceipt]
    auth: httpx.Auth | None
    correlation_id: str


def _bundle_dict(bundle: Any) -> dict[str, Any]:
    data = bundle.build() if hasattr(bundle, "build") else to_dict(bundle)
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise ConfigurationError("bundle", "a push sends a Bundle")
    if data.get("type") not in BUNDLE_TYPES:
        raise ConfigurationError("bundle", "a pushed Bundle is a transaction, batch or message")
    if not data.get("entry"):
        raise ConfigurationError("bundle", "the Bundle has no entries")
    if not all(_typed_entry(e) for e in data["entry"]):  # an untyped resource would pass consent unasked
        raise ConfigurationError("bundle", "every entry is an object and its resource names a resourceType")
    if data["type"] == "message" and not _message_id(data):
        raise ConfigurationError("bundle", "a message starts with a MessageHeader that has an id")
    return data


def _typed_entry(entry: object) -> bool:
    if not isinstance(entry, Mapping):
        return False
    resource = entry.get("resource")
    return resource is None or (
        isinstance(resource, Mapping) and isinstance(resource.get("resourceType"), str)
    )


def _message_id(bundle: Mapping[str, Any]) -> str:
    header_id = (_message_header(bundle) or {}).get("id")
    return header_id if isinstance(header_id, str) else ""


def _message_header(bundle: Mapping[str, Any]) -> Mapping[str, Any] | None:
    first = (bundle.get("entry") or [{}])[0]
    resource = first.get("resource") if isinstance(first, Mapping) else None
    if isinstance(resource, Mapping) and resource.get("resourceType") == "MessageHeader":
        return resource
    return None


def _resource_types(bundle: Mapping[str, Any]) -> set[str]:
    types = set()
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        rtype = resource.get("resourceType") if isinstance(resource, Mapping) else None
        if isinstance(rtype, str) and rtype != "MessageHeader":
            types.add(rtype)
    return types


def message_outcome(bundle: Mapping[str, Any], reference: str | None) -> Any:
    """The entry of a response message that ``reference`` (``response.details``) points to."""
    if not reference:
        return None
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            continue
        local = f"{resource.get('resourceType')}/{resource.get('id')}"
        if reference in (entry.get("fullUrl"), local) or reference.endswith("/" + local):
            return resource
    return None


def _read_message_response(result: FhirResult, header_id: str) -> str | None:
    body = result.json
    if body is None or body.get("resourceType") != "Bundle":
        return None
    if body.get("type") != "message":
        raise ModelValidationError("$process-message answered with a Bundle that is not a message")
    header = _message_header(body)
    response = (header or {}).get("response")
    if not isinstance(response, Mapping):
        raise ModelValidationError("the response message has no MessageHeader.response")
    if response.get("identifier") != header_id:
        raise ModelValidationError("the response message answers another message")
    code = str(response.get("code") or "")
    if code != "ok":
        details = response.get("details")
        reference = details.get("reference") if isinstance(details, Mapping) else None
        raise MessageRejected(
            f"the receiver answered the message with {code or 'no code'}",
            code=code, operation_outcome=message_outcome(body, reference),
        )  # fmt: skip
    return code


@attrs.define
class PushCore:
    """The I/O-free part of Push: addressing, request building, receipts and audit."""

    our_ura: Ura
    resolver: AddressResolver
    auth_for: AuthFor | None = None
    auditor: Auditor | None = None
    fhir_version: FhirVersion | None = None
    consent: ConsentCheck | None = attrs.field(kw_only=True)
    """Required: the consent check, or an explicit ``None`` for data that needs none (fail closed)."""

    def plan(
        self, receiver: Ura, bundle: Any, payload_type: PayloadType | str, patient: Bsn | None = None
    ) -> PushPlan:
        """Check consent (when configured), resolve the receiver's endpoint and build the POST."""
        data = _bundle_dict(bundle)
        kind = str(data["type"])
        if self.consent is not None:
            self._check_consent(receiver, data, patient)
        payload = PayloadType.parse(payload_type)
        endpoint = self.resolver.resolve(receiver, payload, fhir_version=self.fhir_version)[0]
        version = endpoint.fhir_version or payload.fhir_version or self.fhir_version or FhirVersion.R4
        fhir = FhirCore(endpoint.address, version, raw=True)
        auth = self.auth_for(receiver, endpoint.address) if self.auth_for else None
        correlation = str(data.get("id") or uuid.uuid4())

        if kind == "message":
            header_id = correlation = _message_id(data)
            op = fhir.operation("process-message", method="POST", body=data)

            def parse_message(response: httpx.Response) -> PushReceipt:
                result = op.parse(response)
                code = _read_message_response(result, header_id)
                return PushReceipt(receiver, endpoint.address, kind, result, message_code=code)

            call = Call(op.request, parse_message)
        else:
            posted = fhir.bundle(data, "transaction" if kind == "transaction" else "batch")

            def parse_bundle(response: httpx.Response) -> PushReceipt:
                answer = posted.parse(response)
                return PushReceipt(receiver, endpoint.address, kind, answer.result, answer)

            call = Call(posted.request, parse_bundle)
        return PushPlan(receiver, endpoint, version, kind, call, auth, correlation)

    def _check_consent(self, receiver: Ura, data: Mapping[str, Any], patient: Bsn | None) -> None:
        """We hold the data we push: every resource type in it needs a Permit for ``receiver``."""
        if patient is None:
            raise ConfigurationError("patient", "a push with a consent check needs the patient")
        assert self.consent is not None
        for resource_type in sorted(_resource_types(data)):
            try:
                allowed = self.consent(ConsentRequest(patient, receiver, self.our_ura, resource_type)) is True
            except Exception:  # fail closed: any failure of the check is a Deny
                allowed = False
            if self.auditor is not None:
                self.auditor.record(
                    "push.consent", "success" if allowed else "denied", patient=patient, peer=receiver,
                    query=resource_type,
                )  # fmt: skip
            if not allowed:
                raise ConsentDenied(f"no consent to send {resource_type}: nothing was sent",
                                    resource_type=resource_type)  # fmt: skip

    def audit_success(self, plan: PushPlan, receipt: PushReceipt, patient: Bsn | None) -> PushReceipt:
        """Record a delivered push."""
        failed = len(receipt.failures)
        counts = f"{len(receipt.entries)} entries, {failed} failed"
        detail = counts if receipt.entries else receipt.message_code
        outcome: Outcome = "success" if receipt.ok else "failure"
        self._record(outcome, plan.receiver, patient, plan, detail)
        return receipt

    def audit_failure(
        self, receiver: Ura, plan: PushPlan | None, error: TwiinError, patient: Bsn | None
    ) -> None:
        """Record a push that failed (addressing, token, transport or the receiver's refusal)."""
        status = getattr(error, "status", None)
        detail = type(error).__name__ + (f" {status}" if status else "")
        self._record("failure", receiver, patient, plan, detail)

    def _record(
        self, outcome: Outcome, receiver: Ura, patient: Bsn | None, plan: PushPlan | None, detail: str | None
    ) -> None:
        if self.auditor is not None:
            self.auditor.record(
                "push.send", outcome, patient=patient, peer=receiver,
                resource=f"Bundle ({plan.bundle_type})" if plan else None,
                correlation_id=plan.correlation_id if plan else None, detail=detail,
            )  # fmt: skip
