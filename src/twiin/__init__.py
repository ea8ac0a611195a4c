"""twiin: the Python SDK for exchanges under the Dutch Twiin Afsprakenstelsel."""

from typing import TYPE_CHECKING, Any

from twiin._version import __version__
from twiin.config import EndpointConfig, Participant, RetryPolicy, Timeouts, TwiinConfig, load_config
from twiin.credentials import Credentials, TrustAnchors
from twiin.errors import TwiinError
from twiin.fhir_version import FhirVersion
from twiin.identifiers import AgbCode, Bsn, ProviderType, RoleCode, Ura, UziNumber

if TYPE_CHECKING:
    from twiin.node import AsyncNode, Node

__all__ = [
    "AgbCode",
    "AsyncNode",
    "Bsn",
    "Credentials",
    "EndpointConfig",
    "FhirVersion",
    "Node",
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


def __getattr__(name: str) -> Any:
    """Import :class:`Node` and :class:`AsyncNode` on first use (they pull in every building block)."""
    if name in ("Node", "AsyncNode"):
        from twiin import node

        return getattr(node, name)
    raise AttributeError(f"module 'twiin' has no attribute {name!r}")
