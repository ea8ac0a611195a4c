"""twiin: the Python SDK for exchanges under the Dutch Twiin Afsprakenstelsel."""

from twiin._version import __version__
from twiin.config import EndpointConfig, Participant, RetryPolicy, Timeouts, TwiinConfig, load_config
from twiin.credentials import Credentials, TrustAnchors
from twiin.errors import TwiinError
from twiin.fhir_version import FhirVersion
from twiin.identifiers import AgbCode, Bsn, ProviderType, RoleCode, Ura, UziNumber

__all__ = [
    "AgbCode",
    "Bsn",
    "Credentials",
    "EndpointConfig",
    "FhirVersion",
    "Participant",
    "ProviderType",
    "RetryPolicy",
    "RoleCode",
    "Timeouts",
    "TrustAnchors",
    "TwiinConfig",
    "TwiinError",
    "Ura",
    "UziNumber",
    "__version__",
    "load_config",
]
