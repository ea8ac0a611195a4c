"""TA Notified Pull (STU3), both halves.

Sender: :class:`NotificationSender` / :class:`AsyncNotificationSender` (notify, update, cancel),
:class:`PullServer` (guard for reads and searches) with :class:`IssuedTokenVerifier`.
Receiver: :class:`NotificationReceiver` (accept a Notification Task or its cancellation) and
:class:`Puller` / :class:`AsyncPuller` (pull everything a notification offers).
"""

from twiin.exchange.notified_pull.access import IssuedTokenVerifier, NotificationAccess
from twiin.exchange.notified_pull.consent import category_for, consent_check
from twiin.exchange.notified_pull.matcher import MatchResult, NormalisedRequest, RequestMatcher, normalise
from twiin.exchange.notified_pull.ports import (
    BGZ_SERVER_PAYLOAD,
    NOTIFICATION_PAYLOAD,
    AccessGrant,
    ConsentCheck,
    ConsentRequest,
    EndpointResolver,
    TokenVerifier,
    certificate_ura,
)
from twiin.exchange.notified_pull.pull import InputResult, PullResult, PullStep, plan_pull
from twiin.exchange.notified_pull.pull_server import PatientStore, PullServer
from twiin.exchange.notified_pull.puller import AsyncPuller, PullCore, Puller
from twiin.exchange.notified_pull.receiver import MemoryInbox, Notification, NotificationReceiver
from twiin.exchange.notified_pull.sender import (
    AsyncNotificationSender,
    NotificationSender,
    Receipt,
    SenderCore,
)
from twiin.exchange.notified_pull.task import (
    NotificationTask,
    PartyId,
    QueryInput,
    ReadInput,
    build_notification_task,
)
from twiin.exchange.notified_pull.task_parse import ParsedTask, TaskIssue, parse_notification_task

__all__ = [
    "BGZ_SERVER_PAYLOAD",
    "NOTIFICATION_PAYLOAD",
    "AccessGrant",
    "AsyncNotificationSender",
    "AsyncPuller",
    "ConsentCheck",
    "ConsentRequest",
    "EndpointResolver",
    "InputResult",
    "IssuedTokenVerifier",
    "MatchResult",
    "MemoryInbox",
    "NormalisedRequest",
    "Notification",
    "NotificationAccess",
    "NotificationReceiver",
    "NotificationSender",
    "NotificationTask",
    "ParsedTask",
    "PartyId",
    "PatientStore",
    "PullCore",
    "PullResult",
    "PullServer",
    "PullStep",
    "Puller",
    "QueryInput",
    "ReadInput",
    "Receipt",
    "RequestMatcher",
    "SenderCore",
    "TaskIssue",
    "TokenVerifier",
    "build_notification_task",
    "category_for",
    "certificate_ura",
    "consent_check",
    "normalise",
    "parse_notification_task",
    "plan_pull",
]
