"""Mitz OTV consent subscriptions (create) and consent notifications (parse), sans-I/O.

A subscription registers us as a potential data holder for a patient and asks Mitz to notify
our rest-hook when the patient's consent changes (spec generic-functions §1.5). It is a FHIR
``Subscription`` POSTed as JSON to ``{base}/abonnementen/fhir/Subscription``; Mitz answers 201
or 202 (sources disagree, both are accepted) with the id in ``Location``. Notifications are FHIR
transaction Bundles of ``Consent-Mitz-Notify`` Consents plus the Patient and holder Organization,
in XML or JSON; both are parsed into :class:`ConsentNotification` values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import attrs

from twiin import naming
from twiin.consent._attrs import SUBSCRIPTION_PATH
from twiin.consent._xml import FHIR, MAX_XML_BYTES, MAX_XML_DEPTH, parse_xml, q
from twiin.consent.model import DataCategory, Purpose
from twiin.errors import (
    ConsentNotificationError,
    InvalidIdentifier,
    MitzSubscriptionError,
    SubscriptionEndpointNotFound,
    SubscriptionInvalid,
    SubscriptionRuleViolation,
    SubscriptionThrottled,
    SubscriptionUnauthorized,
    TwiinError,
    UnsafeXML,
)
from twiin.identifiers import Bsn, ProviderType, Ura
from twiin.serving import Answer, IncomingRequest

__all__ = [
    "ConsentNotification",
    "MitzSubscriptions",
    "SubscriptionReceipt",
    "SubscriptionRequest",
]

EXT_BIRTH_DATE = "http://fhir.nl/StructureDefinition/Patient.birthDate"
EXT_GATEWAY = "http://fhir.nl/StructureDefinition/GatewaySystem"
EXT_SOURCE = "http://fhir.nl/StructureDefinition/SourceSystem"
EXT_PROVIDER_CATEGORY = "http://fhir.nl/StructureDefinition/OTV-ProviderCategory"
NOTIFY_PROFILE = "http://vzvz.nl/fhir/StructureDefinition/Consent-Mitz-Notify"
MAX_NOTIFICATION_BYTES = 1024 * 1024


def _oid_uri(value: str) -> str:
    if not value.startswith("urn:oid:") or not all(p.isdigit() for p in value[8:].split(".")):
        raise InvalidIdentifier("system OID", "must be a urn:oid: URI")
    return value


@attrs.frozen
class SubscriptionRequest:
    """What to subscribe to: a patient at our organisation, notifications to ``notify_url``."""

    patient: Bsn
    holder_ura: Ura
    holder_type: ProviderType
    notify_url: str
    gateway_system: str = attrs.field(converter=_oid_uri)
    source_system: str = attrs.field(converter=_oid_uri)
    birth_date: date | None = None
    payload: str = attrs.field(
        default=naming.FHIR_JSON, validator=attrs.validators.in_((naming.FHIR_JSON, naming.FHIR_XML))
    )


@attrs.frozen
class SubscriptionReceipt:
    """Mitz accepted the subscription: HTTP status (201/202) and the id from ``Location``."""

    status: int
    id: str | None
    location: str | None


@attrs.frozen
class ConsentNotification:
    """One consent change from a Mitz notification Bundle."""

    consent_id: str | None
    active: bool
    permit: bool
    category: DataCategory
    consulting_categories: tuple[str, ...]
    patient: Bsn
    holder_ura: Ura
    holder_type: ProviderType | None
    purpose: Purpose | None
    date_time: str | None


# -- a uniform view on FHIR JSON and FHIR XML --------------------------------------------------------
Node = dict[str, list[Any]]


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: [_listify(i) for i in (v if isinstance(v, list) else [v])] for k, v in value.items()}
    return value


def _from_xml(element: Any) -> Node:
    node: Node = {}
    for child in element:
        if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{FHIR}}}"):
            continue
        name = child.tag.split("}", 1)[1]
        if name == "resource":
            inner = [c for c in child if isinstance(c.tag, str)]
            if len(inner) != 1:
                raise ConsentNotificationError("entry.resource must hold one resource")
            resource = _from_xml(inner[0])
            resource["resourceType"] = [inner[0].tag.split("}", 1)[1]]
            node.setdefault(name, []).append(resource)
        elif len(child) == 0 and child.get("value") is not None:
            node.setdefault(name, []).append(child.get("value"))
        else:
            sub = _from_xml(child)
            if child.get("url") is not None:
                sub["url"] = [child.get("url")]
            node.setdefault(name, []).append(sub)
    return node


def _first(node: Any, *path: str) -> Any:
    current = node
    for key in path:
        if not isinstance(current, dict):
            return None
        values = current.get(key)
        if not values:
            return None
        current = values[0]
    return current


def _str(node: Any, *path: str) -> str | None:
    value = _first(node, *path)
    return value if isinstance(value, str) else None


def _codings(node: Any, key: str) -> list[dict[str, Any]]:
    out = []
    for concept in node.get(key, []) if isinstance(node, dict) else []:
        for coding in concept.get("coding", []) if isinstance(concept, dict) else []:
            if isinstance(coding, dict):
                out.append(coding)
    return out


def _notification(consent: Node, by_url: Mapping[str, Node]) -> ConsentNotification:
    categories = [
        c for c in _codings(consent, "category") if _str(c, "system") == naming.MITZ_DATA_CATEGORY_SYSTEM
    ]
    if len(categories) != 1:
        raise ConsentNotificationError("a Consent must have exactly one Mitz data category")
    category = DataCategory.from_code(_str(categories[0], "code") or "")
    status = _str(consent, "status")
    if status not in ("active", "inactive"):
        raise ConsentNotificationError("Consent.status must be active or inactive")
    patient_ref = _str(consent, "patient", "reference")
    patient_res = by_url.get(patient_ref or "")
    if patient_res is None or _str(patient_res, "resourceType") != "Patient":
        raise ConsentNotificationError("Consent.patient does not resolve to a Patient in the Bundle")
    bsn = next(
        (
            Bsn(_str(i, "value") or "")
            for i in patient_res.get("identifier", [])
            if Bsn.accepts_system(_str(i, "system"))
        ),
        None,
    )
    if bsn is None:
        raise ConsentNotificationError("the Patient has no BSN identifier")
    actor_ref = _str(consent, "provision", "actor", "reference", "reference")
    org = by_url.get(actor_ref or "")
    if org is None or _str(org, "resourceType") != "Organization":
        raise ConsentNotificationError("provision.actor does not resolve to an Organization in the Bundle")
    ura = next(
        (
            Ura(_str(i, "value") or "")
            for i in org.get("identifier", [])
            if Ura.accepts_system(_str(i, "system"))
        ),
        None,
    )
    if ura is None:
        raise ConsentNotificationError("the holder Organization has no URA identifier")
    org_type = next(
        (
            ProviderType(_str(c, "code") or "")
            for c in _codings(org, "type")
            if ProviderType.accepts_system(_str(c, "system"))
        ),
        None,
    )
    consulting = tuple(
        code
        for ext in consent.get("extension", [])
        if _str(ext, "url") == EXT_PROVIDER_CATEGORY
        for coding in _codings({"v": ext.get("valueCodeableConcept", [])}, "v")
        if (code := _str(coding, "code"))
    )
    purpose_code = _str(consent, "provision", "purpose", "code")
    purpose = Purpose(purpose_code) if purpose_code in ("TREAT", "COC") else None
    return ConsentNotification(
        consent_id=_str(consent, "id"),
        active=status == "active",
        permit=_str(consent, "provision", "type") == "permit",
        category=category,
        consulting_categories=consulting,
        patient=bsn,
        holder_ura=ura,
        holder_type=org_type,
        purpose=purpose,
        date_time=_str(consent, "dateTime"),
    )


_STATUS_ERRORS: dict[int, type[MitzSubscriptionError]] = {
    400: SubscriptionInvalid,
    401: SubscriptionUnauthorized,
    404: SubscriptionEndpointNotFound,
    422: SubscriptionRuleViolation,
}


class MitzSubscriptions:
    """Sans-I/O codec for Mitz subscriptions and notifications (the clients do the I/O)."""

    PATH = SUBSCRIPTION_PATH

    @staticmethod
    def build(request: SubscriptionRequest) -> dict[str, Any]:
        """The FHIR ``Subscription`` (JSON dict) for ``request``."""
        extensions: list[dict[str, str]] = []
        if request.birth_date is not None:
            extensions.append({"url": EXT_BIRTH_DATE, "valueDate": request.birth_date.isoformat()})
        extensions.append({"url": EXT_GATEWAY, "valueOid": request.gateway_system})
        extensions.append({"url": EXT_SOURCE, "valueOid": request.source_system})
        criteria = (
            f"Consent?_query=otv&patientid={request.patient.value}"
            f"&providerid={request.holder_ura.value}&providertype={request.holder_type.value}"
        )
        return {
            "resourceType": "Subscription",
            "extension": extensions,
            "status": "requested",
            "reason": "OTV",
            "criteria": criteria,
            "channel": {"type": "rest-hook", "endpoint": request.notify_url, "payload": request.payload},
        }

    @staticmethod
    def encode(request: SubscriptionRequest) -> tuple[dict[str, str], bytes]:
        """HTTP headers and JSON body of the create request."""
        body = json.dumps(MitzSubscriptions.build(request), separators=(",", ":")).encode("utf-8")
        return {"Content-Type": naming.FHIR_JSON, "Accept": naming.FHIR_JSON}, body

    @staticmethod
    def parse_created(status: int, headers: Mapping[str, str]) -> SubscriptionReceipt:
        """Accept 201/202 and read the id from ``Location``; map refusals to typed errors."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if status in (201, 202):
            location = lowered.get("location") or lowered.get("content-location")
            sub_id = None
            if location:
                parts = location.rstrip("/").split("/")
                if "_history" in parts:
                    parts = parts[: parts.index("_history")]
                sub_id = parts[-1] or None
            return SubscriptionReceipt(status=status, id=sub_id, location=location)
        if status == 429:
            retry = lowered.get("retry-after", "")
            seconds = float(retry) if retry.replace(".", "", 1).isdigit() else None
            raise SubscriptionThrottled("Mitz throttles subscriptions (429)", retry_after=seconds)
        error = _STATUS_ERRORS.get(status, MitzSubscriptionError)
        raise error(f"Mitz refused the subscription: HTTP {status}", status=status)

    @staticmethod
    def parse_notification(body: bytes, content_type: str = naming.FHIR_JSON) -> list[ConsentNotification]:
        """The consent notifications in a Mitz notification Bundle (FHIR XML or JSON)."""
        if len(body) > MAX_NOTIFICATION_BYTES:
            raise ConsentNotificationError("notification too large")
        media = content_type.split(";", maxsplit=1)[0].strip().lower()
        stripped = body.lstrip()
        if "xml" in media or (not media and stripped.startswith(b"<")):
            root = parse_xml(
                body,
                max_bytes=MAX_XML_BYTES,
                max_depth=MAX_XML_DEPTH,
                malformed=lambda reason: ConsentNotificationError(f"notification is not XML: {reason}"),
            )
            if root.tag != q(FHIR, "Bundle"):
                raise ConsentNotificationError("notification is not a FHIR Bundle")
            bundle: Node = _from_xml(root)
            bundle["resourceType"] = ["Bundle"]
        else:
            try:
                raw = json.loads(body)
            except (ValueError, RecursionError):
                raise ConsentNotificationError("notification is not JSON") from None
            if not isinstance(raw, dict) or raw.get("resourceType") != "Bundle":
                raise ConsentNotificationError("notification is not a FHIR Bundle")
            try:
                bundle = _listify(raw)
            except RecursionError:
                raise ConsentNotificationError("notification nests too deeply") from None
        return _bundle_notifications(bundle)

    @staticmethod
    def handle_notification(
        request: IncomingRequest, on_notification: Callable[[list[ConsentNotification]], None]
    ) -> Answer:
        """Server block for the rest-hook: parse, hand over, answer 204 (400 when invalid)."""
        if request.method != "POST":
            return Answer.outcome(405, "not-supported", "POST a notification Bundle")
        try:
            notifications = MitzSubscriptions.parse_notification(request.body, request.content_type)
        except (ConsentNotificationError, UnsafeXML, InvalidIdentifier) as exc:
            return Answer.outcome(400, "invalid", exc.message)
        on_notification(notifications)
        return Answer(204)


def _bundle_notifications(bundle: Node) -> list[ConsentNotification]:
    if _str(bundle, "type") not in ("transaction", "batch", "collection", "message"):
        raise ConsentNotificationError("notification Bundle has an unexpected type")
    by_url: dict[str, Node] = {}
    consents: list[Node] = []
    for entry in bundle.get("entry", []):
        resource = _first(entry, "resource")
        if not isinstance(resource, dict):
            raise ConsentNotificationError("a Bundle entry has no resource")
        full_url = _str(entry, "fullUrl")
        if full_url:
            by_url[full_url] = resource
        if _str(resource, "resourceType") == "Consent":
            consents.append(resource)
    if not consents:
        raise ConsentNotificationError("notification Bundle holds no Consent")
    try:
        return [_notification(c, by_url) for c in consents]
    except ConsentNotificationError:
        raise
    except TwiinError as exc:
        raise ConsentNotificationError(f"invalid notification: {exc.message}") from None
