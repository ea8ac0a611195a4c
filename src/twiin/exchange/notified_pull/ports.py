"""The generic functions Notified Pull depends on, as small protocols (pluggable per plateau).

Notified Pull needs addressing (endpoint of a URA for a payload type), access-token checks at
the sender, and consent (authorization bases come from :mod:`twiin.auth.server`). Each is a protocol here
so that static/local implementations (plateau 1-2) and national ones (plateau 3-4) fit alike.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import attrs
from cryptography import x509

from twiin._http.compat import httpx
from twiin.addressing import AddressResolver, payload_types
from twiin.auth.uzi import uzi_identity
from twiin.errors import InvalidTokenError, UziIdentityError
from twiin.identifiers import Bsn, Ura

__all__ = [
    "BGZ_SERVER_PAYLOAD",
    "NOTIFICATION_PAYLOAD",
    "AccessGrant",
    "AuthFor",
    "ConsentCheck",
    "ConsentRequest",
    "EndpointResolver",
    "TokenVerifier",
    "certificate_ura",
]

NOTIFICATION_PAYLOAD = payload_types.TWIIN_TA_NOTIFICATION
"""Payload type of a receiver's Notification Task endpoint."""
BGZ_SERVER_PAYLOAD = payload_types.BGZ_SERVER
"""Payload type of a sender's BgZ FHIR base (STU3)."""
EndpointResolver = AddressResolver
"""Addressing: ``resolve(ura, payload_type, *, fhir_version=None) -> list[ResolvedEndpoint]``."""
AuthFor = Callable[[Ura, str], httpx.Auth | None]
"""Gives the token auth (an ``httpx.Auth``) for a peer URA and its endpoint address."""


@attrs.frozen(repr=False)
class AccessGrant:
    """What a verified access token says: the client organisation and its authorization base."""

    client_ura: Ura
    authorization_base_id: str
    patient: Bsn | None = None

    def __repr__(self) -> str:
        return f"AccessGrant(client_ura={self.client_ura.value})"


class TokenVerifier(Protocol):
    """Checks an access token presented on the sender's FHIR base (bound to the TLS peer)."""

    def verify(self, token: str, peer_certificate: x509.Certificate | None) -> AccessGrant:
        """The grant; raises ``InvalidTokenError`` / ``AuthorizationBaseError``."""
        ...


@attrs.frozen
class ConsentRequest:
    """The consent question for one pull request: may ``requester`` get this data of ``patient``?"""

    patient: Bsn
    requester: Ura
    holder: Ura
    resource_type: str
    category: str | None = None


ConsentCheck = Callable[[ConsentRequest], bool]
"""Answers a consent question with True (Permit) or False; any exception counts as Deny."""


def certificate_ura(certificate: x509.Certificate | None) -> Ura:
    """The URA in a UZI server certificate (SAN otherName ``2.5.5.5``); ``InvalidTokenError`` if absent."""
    if certificate is None:
        raise InvalidTokenError("no TLS client certificate")
    try:
        return uzi_identity(certificate).ura
    except UziIdentityError:
        raise InvalidTokenError("certificate carries no valid UZI identity") from None


Clock = Callable[[], datetime]
