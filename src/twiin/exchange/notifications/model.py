"""Values of TA Notifications: parsed status Parameters, events, notifications, authorization hints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from twiin.validation import ValidationIssue

__all__ = [
    "AuthorizationHint",
    "Notification",
    "NotificationEvent",
    "NotificationType",
    "PayloadContent",
    "SubscriptionStatus",
]

PayloadContent = Literal["empty", "id-only", "full-resource"]
NotificationType = Literal["handshake", "heartbeat", "event-notification", "query-status", "query-event"]


@attrs.frozen(repr=False)
class AuthorizationHint:
    """The provisional ``authorization-type`` / ``authorization-value`` parts of an event.

    The value is a credential for a sender-initiated pull: it never appears in a repr or log.
    """

    system: str | None
    code: str | None
    value: str

    def __repr__(self) -> str:
        return f"AuthorizationHint(system={self.system!r}, code={self.code!r}, value=<redacted>)"


@attrs.frozen
class NotificationEvent:
    """One ``notification-event``: its number, timestamp, focus and additional context."""

    number: int
    timestamp: str | None = None
    focus: str | None = None
    additional_context: tuple[str, ...] = ()
    authorization: AuthorizationHint | None = None


@attrs.frozen
class SubscriptionStatus:
    """A parsed Twiin Subscription Status (``Parameters``)."""

    subscription: str
    topic: str | None
    status: str
    type: str
    events_since_start: int | None = None
    events: tuple[NotificationEvent, ...] = ()
    errors: tuple[str, ...] = ()


@attrs.frozen
class Notification:
    """A parsed notification (or ``$events`` answer) Bundle.

    ``resources`` maps the fullUrl of each entry after the status to its resource, when the
    payload carried it (full-resource); ``issues`` holds the warnings validation left.
    """

    status: SubscriptionStatus
    content: PayloadContent
    resources: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    issues: tuple[ValidationIssue, ...] = ()

    @property
    def kind(self) -> str:
        """``handshake``, ``heartbeat``, ``event-notification`` or ``query-event``."""
        return self.status.type

    def resource_for(self, event: NotificationEvent) -> Mapping[str, Any] | None:
        """The embedded focus resource of ``event`` (full-resource payloads), if any."""
        if event.focus is None:
            return None
        return self.resources.get(event.focus)
