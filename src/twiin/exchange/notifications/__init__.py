"""TA Notifications (R4, Subscriptions R5 Backport as profiled by Twiin): both halves.

Client: :func:`build_subscription`, :class:`SubscriptionClient` / :class:`AsyncSubscriptionClient`
(create, read, retire with status off, ``$status``, ``$events``) and the rest-hook receiver
:class:`NotificationReceiver` / :class:`AsyncNotificationReceiver` (``handle(request) -> Answer``).
Data holder: :class:`SubscriptionServerCore` (registry, numbering, bundles, REST face) and
:class:`Dispatcher` / :class:`AsyncDispatcher` (delivery with retries and backoff).
"""

from twiin.exchange.notifications.bundles import (
    StoredEvent,
    events_bundle,
    notification_bundle,
    status_bundle,
    status_parameters,
)
from twiin.exchange.notifications.client import AsyncSubscriptionClient, SubscriptionClient
from twiin.exchange.notifications.dispatch import AsyncDispatcher, DeliveryPolicy, Dispatcher
from twiin.exchange.notifications.model import (
    AuthorizationHint,
    Notification,
    NotificationEvent,
    NotificationType,
    PayloadContent,
    SubscriptionStatus,
)
from twiin.exchange.notifications.parse import (
    load_resource,
    parse_events_bundle,
    parse_notification,
    parse_status_bundle,
    parse_status_parameters,
)
from twiin.exchange.notifications.receiver import AsyncNotificationReceiver, NotificationReceiver
from twiin.exchange.notifications.receiver_core import (
    ReceivedEvent,
    ReceiverCore,
    Reception,
    SubscriptionProgress,
)
from twiin.exchange.notifications.registry import SubscriptionRecord
from twiin.exchange.notifications.server import Delivery, SubscriptionServerCore
from twiin.exchange.notifications.subscription import build_subscription, retired

__all__ = [
    "AsyncDispatcher",
    "AsyncNotificationReceiver",
    "AsyncSubscriptionClient",
    "AuthorizationHint",
    "Delivery",
    "DeliveryPolicy",
    "Dispatcher",
    "Notification",
    "NotificationEvent",
    "NotificationReceiver",
    "NotificationType",
    "PayloadContent",
    "ReceivedEvent",
    "ReceiverCore",
    "Reception",
    "StoredEvent",
    "SubscriptionClient",
    "SubscriptionProgress",
    "SubscriptionRecord",
    "SubscriptionServerCore",
    "SubscriptionStatus",
    "build_subscription",
    "events_bundle",
    "load_resource",
    "notification_bundle",
    "parse_events_bundle",
    "parse_notification",
    "parse_status_bundle",
    "parse_status_parameters",
    "retired",
    "status_bundle",
    "status_parameters",
]
