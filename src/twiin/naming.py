"""Naming systems, OIDs and canonicals used across Twiin, one constant each.

Sources: Twiin technical core (TA Notified Pull, TA Notifications, TA Workflow), the Generic
Functions IG and the Mitz connection documentation. Where two URIs are in use for the same
system, the primary one is the constant and the alternatives are listed in ``*_ALIASES``.
"""

from __future__ import annotations

# --- FHIR versions -----------------------------------------------------------------------
FHIR_STU3 = "3.0.2"
FHIR_R4 = "4.0.1"

# --- Dutch identifier systems ------------------------------------------------------------
BSN_SYSTEM = "http://fhir.nl/fhir/NamingSystem/bsn"
BSN_OID = "2.16.840.1.113883.2.4.6.3"
PSEUDO_BSN_SYSTEM = "http://fhir.nl/fhir/NamingSystem/pseudo-bsn"

URA_SYSTEM = "http://fhir.nl/fhir/NamingSystem/ura"
URA_OID = "2.16.528.1.1007.3.3"
URA_OID_URN = "urn:oid:" + URA_OID  # assigner system of GF custodian-assigned identifiers

UZI_SYSTEM = "http://fhir.nl/fhir/NamingSystem/uzi"
UZI_SYSTEM_ALIASES = ("http://fhir.nl/fhir/NamingSystem/uzi-nr-pers",)
UZI_OID = "2.16.528.1.1007.3.1"
UZI_CA_OID = "2.16.528.1.1007.99.2110"
UZI_OTHERNAME_OID = "2.5.5.5"

AGB_SYSTEM = "http://fhir.nl/fhir/NamingSystem/agb-z"
AGB_OID = "2.16.840.1.113883.2.4.6.1"

KVK_SYSTEM = "http://fhir.nl/fhir/NamingSystem/kvk"
KVK_GF_SYSTEM = "http://kvk.nl"

UZI_ROLE_SYSTEM = "http://fhir.nl/fhir/NamingSystem/uzi-rolcode"
UZI_ROLE_OID = "2.16.840.1.113883.2.4.15.111"

PROVIDER_TYPE_SYSTEM = "http://nictiz.nl/fhir/NamingSystem/organization-type"
PROVIDER_TYPE_OID = "2.16.840.1.113883.2.4.15.1060"

VEKTIS_SPECIALISM_OID = "2.16.840.1.113883.2.4.6.7"

# --- Mitz ----------------------------------------------------------------------------------
MITZ_DATA_CATEGORY_SYSTEM = "http://fhir.nl/otv/CodeSystem/gegevenscategorie"
MITZ_DATA_CATEGORY_OID = "2.16.840.1.113883.2.4.3.111.5.10.1"
MITZ_CONSULTING_CATEGORY_SYSTEM = "http://fhir.nl/otv/CodeSystem/raadplegende-zorgaanbiedercategorie"
PURPOSE_OF_USE_OID = "2.16.840.1.113883.1.11.20448"
ACT_REASON_SYSTEM = "http://hl7.org/fhir/v3/ActReason"
MITZ_SAML_AUDIENCE = "urn:oid:2.16.840.1.113883.2.4.3.111.2.1"

# --- TA Notified Pull (STU3) -----------------------------------------------------------------
TASK_CODE_SYSTEM = "http://fhir.nl/fhir/NamingSystem/TaskCode"
TASK_PARAMETER_SYSTEM = "http://fhir.nl/fhir/NamingSystem/TaskParameter"
PULL_NOTIFICATION_CODE = "pull-notification"
LOINC_SYSTEM = "http://loinc.org"
SNOMED_SYSTEM = "http://snomed.info/sct"

# --- Twiin canonicals (R4 line) -----------------------------------------------------------------
TWIIN_NOTIFICATIONS = "https://fhir.twiin.nl/ig/notifications"
TWIIN_WORKFLOW = "https://fhir.twiin.nl/ig/workflow"
TWIIN_NOTIFIED_PULL_STU3 = "https://fhir.twiin.nl/ig/notifiedpull-stu3"

SD_TWIIN_SUBSCRIPTION = TWIIN_NOTIFICATIONS + "/StructureDefinition/twiin-subscription"
SD_TWIIN_SUBSCRIPTION_STATUS = TWIIN_NOTIFICATIONS + "/StructureDefinition/twiin-subscription-status"
SD_TWIIN_NOTIFICATION = TWIIN_NOTIFICATIONS + "/StructureDefinition/twiin-subscription-notification"
VS_TWIIN_NOTIFICATION_FORMATS = TWIIN_NOTIFICATIONS + "/ValueSet/twiin-notification-formats"
CAPST_SUBSCRIPTION_SERVER = TWIIN_NOTIFICATIONS + "/CapabilityStatement/twiin-subscription-server"

SD_COORDINATION_TASK = TWIIN_WORKFLOW + "/StructureDefinition/twiin-coordination-task"
SD_CANCELLATION_REQUEST_TASK = TWIIN_WORKFLOW + "/StructureDefinition/twiin-cancellation-request-task"
SD_AUTHORIZATION_CANCELLATION_REQUEST_TASK = (
    TWIIN_WORKFLOW + "/StructureDefinition/twiin-authorization-cancellation-request-task"
)
SD_WORKFLOW_SERVICE_REQUEST = TWIIN_WORKFLOW + "/StructureDefinition/twiin-workflow-servicerequest"
SD_WORKFLOW_SUBSCRIPTION = TWIIN_WORKFLOW + "/StructureDefinition/twiin-workflow-subscription"
CS_TA_WORKFLOW = TWIIN_WORKFLOW + "/CodeSystem/ta-workflow"
VS_TA_WORKFLOW_TASK_CODE = TWIIN_WORKFLOW + "/ValueSet/ta-workflow-task-code"
CAPST_PLACER_SERVER = TWIIN_WORKFLOW + "/CapabilityStatement/twiin-workflow-placer-server"

# --- HL7 international -------------------------------------------------------------------------
HL7_TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
COW_COORDINATION_TASK = "http://hl7.org/fhir/uv/cow/StructureDefinition/coordination-task"
COW_CANCELLATION_REQUEST_TASK = "http://hl7.org/fhir/uv/cow/StructureDefinition/cancellation-request-task"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
EXT_BACKPORT_FILTER_CRITERIA = BACKPORT + "backport-filter-criteria"
EXT_BACKPORT_HEARTBEAT_PERIOD = BACKPORT + "backport-heartbeat-period"
EXT_BACKPORT_TIMEOUT = BACKPORT + "backport-timeout"
EXT_BACKPORT_MAX_COUNT = BACKPORT + "backport-max-count"
EXT_BACKPORT_PAYLOAD_CONTENT = BACKPORT + "backport-payload-content"
OP_BACKPORT_STATUS = (
    "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status"
)
OP_BACKPORT_EVENTS = (
    "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-events"
)
SUBSCRIPTION_PAYLOAD_CONTENTS = ("empty", "id-only", "full-resource")
REST_HOOK = "rest-hook"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

# --- Generic Functions addressing (mCSD) -----------------------------------------------------
GF_HEALTHCARE_SERVICE = "http://fhir.generiekefuncties.nl/csd/StructureDefinition/nl-gf-healthcareservice"
GF_LOCATION = "http://fhir.generiekefuncties.nl/csd/StructureDefinition/nl-gf-location"
GF_CUSTODIAN_ASSIGNED_IDENTIFIER = (
    "http://fhir.generiekefuncties.nl/csd/StructureDefinition/nl-gf-custodianassignedidentifier"
)
PROVENANCE_PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
ENDPOINT_CONNECTION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"

# --- media types -----------------------------------------------------------------------------
FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
JSON_PATCH = "application/json-patch+json"
SOAP_XML = "application/soap+xml"
