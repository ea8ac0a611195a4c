"""Consent: the ``ConsentChecker`` protocol, the Mitz closed question (SOAP/XACML over mTLS),
Mitz OTV subscriptions and notifications, the Mitz open question (patient location), and a
local consent register for plateaus 1-2.

Fail closed: only ``Permit`` and ``Deny`` are decisions; every other answer raises a
:class:`~twiin.errors.ConsentError` subclass, and :func:`is_allowed` turns any error into False.
"""

from twiin.consent.client import AsyncMitzClient, MitzClient
from twiin.consent.local import AsyncLocalConsentRegister, ConsentRecord, LocalConsentRegister
from twiin.consent.mitz import (
    MitzOptions,
    build_closed_question,
    build_xacml_request,
    parse_closed_answer,
    parse_closed_question,
)
from twiin.consent.model import (
    AsyncConsentChecker,
    ConsentChecker,
    ConsentDecision,
    ConsentQuestion,
    DataCategory,
    Decision,
    ProfessionalId,
    Purpose,
    ais_allowed,
    is_allowed,
)
from twiin.consent.open_question import OpenQuestion, PatientLocation, build_open_question, parse_open_answer
from twiin.consent.subscriptions import (
    ConsentNotification,
    MitzSubscriptions,
    SubscriptionReceipt,
    SubscriptionRequest,
)

__all__ = [
    "AsyncConsentChecker",
    "AsyncLocalConsentRegister",
    "AsyncMitzClient",
    "ConsentChecker",
    "ConsentDecision",
    "ConsentNotification",
    "ConsentQuestion",
    "ConsentRecord",
    "DataCategory",
    "Decision",
    "LocalConsentRegister",
    "MitzClient",
    "MitzOptions",
    "MitzSubscriptions",
    "OpenQuestion",
    "PatientLocation",
    "ProfessionalId",
    "Purpose",
    "SubscriptionReceipt",
    "SubscriptionRequest",
    "ais_allowed",
    "build_closed_question",
    "build_open_question",
    "build_xacml_request",
    "is_allowed",
    "parse_closed_answer",
    "parse_closed_question",
    "parse_open_answer",
]
