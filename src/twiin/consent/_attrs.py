"""XACML attribute ids, categories and data types of the Mitz closed question (spec §1.3)."""

from __future__ import annotations

__all__ = [
    "ACTION",
    "ANONYMOUS",
    "CLOSED_ACTION",
    "CLOSED_PATH",
    "CLOSED_RESPONSE_ACTION",
    "DT_CV",
    "DT_II",
    "ENVIRONMENT",
    "EVENT_CODE",
    "HOLDER_TYPE",
    "HOLDER_URA",
    "MANDATED",
    "OPEN_ACTION",
    "OPEN_PATH",
    "OPEN_RESPONSE_ACTION",
    "PROVIDER_IDENTIFIER",
    "PURPOSE",
    "REQUESTER_TYPE",
    "REQUESTER_URA",
    "RESOURCE",
    "RESOURCE_ID",
    "ROLE",
    "STATUS_OK",
    "SUBJECT",
    "SUBSCRIPTION_PATH",
]

RESOURCE = "urn:oasis:names:tc:xacml:3.0:attribute-category:resource"
ACTION = "urn:oasis:names:tc:xacml:3.0:attribute-category:action"
SUBJECT = "urn:oasis:names:tc:xacml:1.0:subject-category:access-subject"
ENVIRONMENT = "urn:oasis:names:tc:xacml:3.0:attribute-category:environment"

RESOURCE_ID = "urn:oasis:names:tc:xacml:2.0:resource:resource-id"
HOLDER_TYPE = "urn:ihe:iti:appc:2016:document-entry:healthcare-facility-type-code"
HOLDER_URA = "urn:ihe:iti:appc:2016:author-institution:id"
EVENT_CODE = "urn:ihe:iti:appc:2016:document-entry:event-code"
ROLE = "urn:oasis:names:tc:xacml:2.0:subject:role"
PROVIDER_IDENTIFIER = "urn:ihe:iti:xua:2017:subject:provider-identifier"
MANDATED = "urn:nl:otv:names:tc:1.0:subject:mandated"
REQUESTER_URA = "urn:nl:otv:names:tc:1.0:subject:provider-institution"
REQUESTER_TYPE = "urn:nl:otv:names:tc:1.0:subject:consulting-healthcare-facility-type-code"
PURPOSE = "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"

DT_II = "urn:hl7-org:v3#II"
DT_CV = "urn:hl7-org:v3#CV"

STATUS_OK = "urn:oasis:names:tc:xacml:1.0:status:ok"

CLOSED_PATH = "geslotenautorisatievraag/xacml3"
OPEN_PATH = "openautorisatievraag"
SUBSCRIPTION_PATH = "abonnementen/fhir/Subscription"

CLOSED_ACTION = "XACMLAuthorizationDecisionQueryRequest"
CLOSED_RESPONSE_ACTION = (
    "http://schemas.otv.nl/toestemmingsregister/XACMLAuthzDecisionQuery/"
    "IGeslotenAutorisatievraagService/XACMLAuthzDecisionQueryResponse"
)
OPEN_ACTION = "urn:ihe:iti:2009:PatientLocationQuery"
OPEN_RESPONSE_ACTION = "urn:ihe:iti:2009:PatientLocationQueryResponse"
ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
