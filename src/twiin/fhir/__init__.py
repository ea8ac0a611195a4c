"""FHIR REST for STU3 and R4: a sans-I/O core with sync and async clients.

``FhirVersion.STU3`` uses ``fhir.resources.STU3`` models; ``FhirVersion.R4`` uses
``fhir.resources.R4B`` models, which parse R4 (4.0.1) payloads for every resource Twiin uses
(``fhir.resources`` ships no plain R4 package). The version is explicit per client.

    with FhirClient("https://fhir.example.org/fhir", FhirVersion.R4, auth=token_auth) as fhir:
        task = fhir.read("Task", "123")
        fhir.update(task.resource, if_match=task.version_id)
        query = SearchParams().where("name", "Acme", modifier="contains")
        for org in fhir.iter_resources("Organization", query):
            ...
"""

from twiin.fhir.async_client import AsyncFhirClient
from twiin.fhir.bundles import BundleBuilder, EntryResult, TransactionResult, correlate
from twiin.fhir.calls import Call, RequestSpec
from twiin.fhir.client import FhirClient
from twiin.fhir.content import parse_resource, resource_type_of, serialize, to_dict
from twiin.fhir.core import FhirCore, Params
from twiin.fhir.outcome import OutcomeIssue, error_for_response, issues_of, operation_outcome_of
from twiin.fhir.paging import Pager, bundle_link, entry_resources, same_origin
from twiin.fhir.result import FhirResult, etag_value, if_match_header, version_id_from_etag
from twiin.fhir.search import SearchParams
from twiin.fhir_version import FhirVersion

__all__ = [
    "AsyncFhirClient",
    "BundleBuilder",
    "Call",
    "EntryResult",
    "FhirClient",
    "FhirCore",
    "FhirResult",
    "FhirVersion",
    "OutcomeIssue",
    "Pager",
    "Params",
    "RequestSpec",
    "SearchParams",
    "TransactionResult",
    "bundle_link",
    "correlate",
    "entry_resources",
    "error_for_response",
    "etag_value",
    "if_match_header",
    "issues_of",
    "operation_outcome_of",
    "parse_resource",
    "resource_type_of",
    "same_origin",
    "serialize",
    "to_dict",
    "version_id_from_etag",
]
