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

from twiin import naming
from twiin.addressing import AddressResolver, payload_types
from twiin.errors import InvalidTokenError
from twiin.identifiers import Bsn, Ura

__all__ = [
    "BGZ_SERVER_PAYLOAD",
    "NOTIFICATION_PAYLOAD",
    "AccessGrant",
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
    """The URA in a UZI server certificate's SAN otherName (``2.5.5.5``); ``InvalidTokenError`` if absent."""
    if certificate is None:
        raise InvalidTokenError("no TLS client certificate")
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise InvalidTokenError("certificate has no subjectAltName") from None
    for name in san.get_values_for_type(x509.OtherName):
        if name.type_id.dotted_string != naming.UZI_OTHERNAME_OID:
            continue
        text = _der_string(name.value)
        parts = text.split("-") if text else []
        if len(parts) >= 5:
            try:
                return Ura(parts[4])
            except ValueError:
                break
    raise InvalidTokenError("certificate carries no UZI URA")


def _der_string(der: bytes) -> str | None:
    if len(der) < 2 or der[0] not in (0x0C, 0x16, 0x13):
        return None
    length, offset = der[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(der[2 : 2 + count], "big"), 2 + count
    try:
        return der[offset : offset + length].decode("utf-8")
    except UnicodeDecodeError:
        return None


Clock = Callable[[], datetime]
