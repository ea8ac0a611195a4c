"""The twiin exception tree.

Every error twiin raises is a :class:`TwiinError`. Messages and reprs never carry a BSN,
an access token or key material: callers may log them as they are. URLs are redacted
(query strings removed) before they are stored on an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "AddressingError",
    "AuthError",
    "AuthorizationBaseError",
    "CertificateError",
    "ChainValidationError",
    "ClientAssertionError",
    "ConfigurationError",
    "ConflictError",
    "ConnectionError",
    "ConsentDuplicateResult",
    "ConsentError",
    "ConsentHTTPError",
    "ConsentIndeterminate",
    "ConsentMalformedAnswer",
    "ConsentMissingResult",
    "ConsentNotApplicable",
    "ConsentNotSoap",
    "ConsentNotificationError",
    "ConsentProtocolError",
    "ConsentRedirectRefused",
    "ConsentRelatesToMismatch",
    "ConsentServiceError",
    "ConsentSignatureError",
    "ConsentSoapFault",
    "ConsentUnaskedCategory",
    "ConsentUnknownDecision",
    "ConsentWrongHolder",
    "ConsentWrongPatient",
    "EndpointNotFound",
    "ExchangeError",
    "FHIRError",
    "IllegalTransition",
    "InvalidIdentifier",
    "InvalidTokenError",
    "MitzSubscriptionError",
    "ModelValidationError",
    "NotAuthorizedError",
    "NotFoundError",
    "NotificationError",
    "PagingError",
    "PreconditionFailedError",
    "ProfileValidationError",
    "RateLimitedError",
    "ResponseTooLarge",
    "ServerError",
    "SubscriptionEndpointNotFound",
    "SubscriptionInvalid",
    "SubscriptionRuleViolation",
    "SubscriptionThrottled",
    "SubscriptionUnauthorized",
    "TLSError",
    "TimeoutError",
    "TokenRequestError",
    "TransportError",
    "TwiinError",
    "UnprocessableError",
    "UnsafeEndpoint",
    "UnsafeXML",
    "UziIdentityError",
    "redact_url",
]


def redact_url(url: object) -> str:
    """Return ``url`` without query string, fragment or userinfo (they may carry a BSN or token)."""
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    redacted = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    if parts.query:
        redacted += "?<redacted>"
    return redacted


class TwiinError(Exception):
    """Base class of every error raised by twiin."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidIdentifier(TwiinError, ValueError):
    """A BSN, URA, UZI number or other identifier failed validation."""

    def __init__(self, kind: str, rule: str) -> None:
        super().__init__(f"invalid {kind}: {rule}")
        self.kind = kind
        self.rule = rule


class ConfigurationError(TwiinError):
    """A configuration that cannot work; ``setting`` names the offending key."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


# --- transport -------------------------------------------------------------------------


class TransportError(TwiinError):
    """The request did not produce an HTTP response."""

    retryable: bool = True

    def __init__(self, message: str, *, url: object = None, method: str | None = None) -> None:
        self.url = redact_url(url) if url is not None else None
        self.method = method
        where = f" ({method} {self.url})" if method and self.url else ""
        super().__init__(message + where)


class TimeoutError(TransportError):
    """Connect, read, write or pool timeout."""


class ConnectionError(TransportError):
    """The connection could not be made or broke off."""


class TLSError(TransportError):
    """A TLS handshake failed: untrusted peer, missing or refused client certificate. Never retried."""

    retryable = False


class ResponseTooLarge(TransportError):
    """A response body exceeded the configured size cap."""

    retryable = False


class UnsafeEndpoint(TwiinError):
    """An endpoint address from outside input was refused before connecting (scheme, host)."""


# --- authentication and authorization ------------------------------------------------------


class AuthError(TwiinError):
    """Authentication or authorization failed."""


class TokenRequestError(AuthError):
    """A token endpoint refused or mangled a token request (RFC 6749 §5.2 or anything else)."""

    def __init__(
        self,
        status: int | None,
        error: str | None,
        description: str | None = None,
        *,
        url: object = None,
    ) -> None:
        self.status = status
        self.error = error
        self.description = description
        self.url = redact_url(url) if url is not None else None
        text = f"token request failed: status={status} error={error or '<none>'}"
        if description:
            text += f" ({description[:200]})"
        super().__init__(text)


class InvalidTokenError(AuthError):
    """An access token presented to us is invalid, expired, or bound to another certificate."""


class ClientAssertionError(AuthError):
    """A client assertion presented to our token endpoint failed verification."""

    def __init__(self, reason: str, *, error: str = "invalid_client") -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


class AuthorizationBaseError(AuthError):
    """An authorization base is unknown, expired, revoked, or used outside its scope."""


class NotAuthorizedError(AuthError):
    """A resource server answered 401 or 403."""

    def __init__(self, status: int, message: str, *, url: object = None) -> None:
        self.status = status
        self.url = redact_url(url) if url is not None else None
        super().__init__(message)


# --- FHIR ---------------------------------------------------------------------------------


class FHIRError(TwiinError):
    """A FHIR server answered with a non-2xx status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str | None = None,
        url: object = None,
        headers: Mapping[str, str] | None = None,
        operation_outcome: Any = None,
    ) -> None:
        self.status = status
        self.method = method
        self.url = redact_url(url) if url is not None else None
        self.headers = dict(headers or {})
        self.operation_outcome = operation_outcome
        self.request_id = self.headers.get("x-request-id")
        super().__init__(message)


class NotFoundError(FHIRError):
    """404 Not Found or 410 Gone."""


class ConflictError(FHIRError):
    """409 Conflict."""


class PreconditionFailedError(ConflictError):
    """412 Precondition Failed (stale If-Match, multiple matches on a conditional operation)."""


class UnprocessableError(FHIRError):
    """422 Unprocessable Entity (profile or business rule violation)."""


class RateLimitedError(FHIRError):
    """429 Too Many Requests; ``retry_after`` in seconds when the server said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(FHIRError):
    """5xx from the server."""


class ModelValidationError(TwiinError):
    """A payload did not validate against the FHIR model; ``raw`` keeps the original bytes."""

    def __init__(self, message: str, *, resource_type: str | None = None, raw: bytes | None = None) -> None:
        super().__init__(message)
        self.resource_type = resource_type
        self.raw = raw

    def __repr__(self) -> str:
        return f"ModelValidationError({self.message!r}, resource_type={self.resource_type!r})"


class PagingError(TwiinError):
    """A paging link was refused (other origin, loop, page limit)."""


class UnsafeXML(TwiinError):
    """An XML document was refused: DTD, entity, too deep or too large."""


# --- generic functions and exchanges --------------------------------------------------------


class AddressingError(TwiinError):
    """Addressing (directory lookup or sync) failed."""


class EndpointNotFound(AddressingError):
    """No endpoint matches the URA and payload type."""

    def __init__(self, ura: object, payload_type: str) -> None:
        super().__init__(f"no endpoint for URA {ura} with payload type {payload_type!r}")
        self.ura = str(ura)
        self.payload_type = payload_type


class ConsentError(TwiinError):
    """The consent question could not be answered cleanly. Callers must treat this as no consent."""


class ConsentServiceError(ConsentError):
    """The consent service answered with an HTTP error or a SOAP fault."""

    def __init__(self, message: str, *, status: int | None = None, fault_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.fault_code = fault_code


class ConsentProtocolError(ConsentError):
    """The consent answer is malformed, ambiguous or does not match the question."""


class ExchangeError(TwiinError):
    """An exchange pattern (Notified Pull, Push, Pull, Notifications, Workflow) step failed."""


class NotificationError(ExchangeError):
    """An incoming notification (Task or Bundle) is invalid; ``status`` is the HTTP answer to give."""

    def __init__(self, message: str, *, status: int = 400, issues: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.issues = list(issues or [])


class ProfileValidationError(TwiinError):
    """A resource broke a Twiin profile invariant with severity error."""

    def __init__(self, message: str, *, issues: list[Any] | None = None) -> None:
        super().__init__(message)
        self.issues = list(issues or [])


class IllegalTransition(ExchangeError):
    """A Task status or businessStatus change that the workflow state machine forbids."""

    def __init__(self, current: str, requested: str, reason: str = "") -> None:
        text = f"illegal transition {current!r} -> {requested!r}"
        super().__init__(f"{text}: {reason}" if reason else text)
        self.current = current
        self.requested = requested


# --- added by auth ---


class CertificateError(AuthError):
    """A certificate cannot be used: no valid UZI identity, or it failed chain validation."""


class UziIdentityError(CertificateError):
    """A certificate has no UZI subjectAltName otherName ``2.5.5.5``, or a malformed one."""


class ChainValidationError(CertificateError):
    """A certificate chain does not lead to a trust anchor, is outside its validity, has the
    wrong key usage, or is revoked (or its revocation status is unknown)."""


# --- added by notified-pull ---


class NotificationCancelled(ExchangeError):
    """The sender cancelled the notification (or revoked its authorization base) during a pull.

    ``partial`` holds the pull result gathered before the cancellation, when there is one.
    """

    def __init__(
        self, message: str = "the sender cancelled this notification", *, partial: Any = None
    ) -> None:
        super().__init__(message)
        self.partial = partial


class PullError(ExchangeError):
    """One read or search of a pull failed; ``cause`` is the typed error behind it."""

    def __init__(self, message: str, *, cause: TwiinError | None = None) -> None:
        super().__init__(message)
        self.cause = cause


__all__ += ["NotificationCancelled", "PullError"]


# --- added by consent -------------------------------------------------------------------------


class ConsentMalformedAnswer(ConsentProtocolError):
    """The consent answer is XML/SOAP but not the expected shape (no Response, no Result, bad echo)."""


class ConsentNotSoap(ConsentProtocolError):
    """A 200 answer whose body is not a SOAP 1.2 envelope."""


class ConsentNotApplicable(ConsentProtocolError):
    """Mitz answered ``NotApplicable`` for a category: not a decision, so no consent."""

    def __init__(self, message: str, *, category: str | None = None) -> None:
        super().__init__(message)
        self.category = category


class ConsentIndeterminate(ConsentProtocolError):
    """Mitz answered ``Indeterminate`` for a category (it could not evaluate): no consent."""

    def __init__(self, message: str, *, category: str | None = None) -> None:
        super().__init__(message)
        self.category = category


class ConsentUnknownDecision(ConsentProtocolError):
    """A Result carries a missing or unknown Decision value."""


class ConsentMissingResult(ConsentProtocolError):
    """No Result came back for a category that was asked."""


class ConsentDuplicateResult(ConsentProtocolError):
    """Two Results came back for the same category."""


class ConsentUnaskedCategory(ConsentProtocolError):
    """A Result is about a category that was not asked."""


class ConsentWrongPatient(ConsentProtocolError):
    """A Result is about another patient than the one asked (the BSN is never shown)."""


class ConsentWrongHolder(ConsentProtocolError):
    """A Result is about another data holder (URA) than the one asked."""


class ConsentRelatesToMismatch(ConsentProtocolError):
    """The answer's ``wsa:RelatesTo`` names another request than ours."""


class ConsentSoapFault(ConsentServiceError):
    """The consent service answered with a SOAP 1.2 Fault (``fault_code`` holds Code/Value)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        fault_code: str | None = None,
        subcode: str | None = None,
    ) -> None:
        super().__init__(message, status=status, fault_code=fault_code)
        self.subcode = subcode


class ConsentHTTPError(ConsentServiceError):
    """The consent service answered with a non-2xx HTTP status and no SOAP fault."""


class ConsentRedirectRefused(ConsentHTTPError):
    """The consent service answered with a redirect; it is never followed (the body holds a BSN)."""


class MitzSubscriptionError(ConsentServiceError):
    """Mitz refused a consent subscription; subclasses name the reason per HTTP status."""


class SubscriptionInvalid(MitzSubscriptionError):
    """400: Mitz found the Subscription resource invalid."""


class SubscriptionUnauthorized(MitzSubscriptionError):
    """401: our certificate or organisation is not allowed to subscribe."""


class SubscriptionEndpointNotFound(MitzSubscriptionError):
    """404: the subscription endpoint does not exist (wrong base URL)."""


class SubscriptionRuleViolation(MitzSubscriptionError):
    """422: the Subscription breaks a Mitz business rule."""


class SubscriptionThrottled(MitzSubscriptionError):
    """429: Mitz throttles us; ``retry_after`` seconds when it said."""

    def __init__(self, message: str, *, status: int | None = 429, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ConsentNotificationError(ConsentProtocolError):
    """An incoming Mitz consent notification Bundle is invalid."""


class ConsentSignatureError(ConsentProtocolError):
    """An XML signature on a Mitz message is missing, malformed or does not verify."""


# --- added by push/pull ---------------------------------------------------------------------


class ConsentDenied(ExchangeError):
    """Consent is not Permit for this data (Deny, or no clean answer): no request was sent.

    ``resource_type`` names the data that was asked for; the patient is never part of the error.
    """

    def __init__(
        self, message: str = "no consent: nothing was requested", *, resource_type: str | None = None
    ) -> None:
        super().__init__(message)
        self.resource_type = resource_type


class MessageRejected(ExchangeError):
    """A receiver answered a FHIR message with ``MessageHeader.response.code`` other than ``ok``.

    ``code`` is ``transient-error`` or ``fatal-error``; ``operation_outcome`` is the outcome the
    response pointed to (``response.details``), when it carried one.
    """

    def __init__(self, message: str, *, code: str, operation_outcome: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.operation_outcome = operation_outcome


__all__ += ["ConsentDenied", "MessageRejected"]
