"""Server half of the closed question: read a request back into a :class:`ConsentQuestion`.

Used by the fake Mitz (and by anyone writing a PDP-side test); the client never needs it.
"""

from __future__ import annotations

from lxml import etree

from twiin import naming
from twiin.consent import _attrs as A
from twiin.consent._soap import read_envelope
from twiin.consent._xacml_read import blocks as _blocks
from twiin.consent._xacml_read import single as _single
from twiin.consent._xml import MAX_XML_BYTES, MAX_XML_DEPTH, XACML, XACML_SAML, q
from twiin.consent.model import ConsentQuestion, DataCategory, ProfessionalId, Purpose
from twiin.errors import ConsentError, ConsentMalformedAnswer, InvalidIdentifier
from twiin.identifiers import Bsn, ProviderType, RoleCode, Ura

__all__ = ["parse_closed_question"]


def _req_ii(blocks: list[etree._Element], attribute_id: str) -> tuple[str, str, str | None]:
    el = _single(blocks, attribute_id, "InstanceIdentifier")
    if el is None:
        raise ConsentMalformedAnswer(f"request lacks {attribute_id}")
    return el.get("root", ""), el.get("extension", ""), el.get("assigningAuthorityName")


def _req_cv(blocks: list[etree._Element], attribute_id: str, system: str) -> str:
    el = _single(blocks, attribute_id, "CodedValue")
    if el is None:
        raise ConsentMalformedAnswer(f"request lacks {attribute_id}")
    if el.get("codeSystem") != system:
        raise ConsentMalformedAnswer(f"{attribute_id} has the wrong code system")
    return el.get("code", "")


def parse_closed_question(
    body: bytes, *, max_bytes: int = MAX_XML_BYTES, max_depth: int = MAX_XML_DEPTH
) -> tuple[ConsentQuestion, str]:
    """Read a closed-question request back into a :class:`ConsentQuestion` and its MessageID.

    The server half (a Mitz stand-in or a test); raises :class:`~twiin.errors.ConsentError`
    subclasses or :class:`~twiin.errors.UnsafeXML` for anything that is not a valid question.
    """
    message = read_envelope(body, max_bytes=max_bytes, max_depth=max_depth)
    if message.payload.tag != q(XACML_SAML, "XACMLAuthzDecisionQuery"):
        raise ConsentMalformedAnswer("SOAP Body is not an XACMLAuthzDecisionQuery")
    requests = message.payload.findall(q(XACML, "Request"))
    if len(requests) != 1:
        raise ConsentMalformedAnswer("query must hold exactly one XACML Request")
    request = requests[0]
    resource = _blocks(request, A.RESOURCE)
    subject = _blocks(request, A.SUBJECT)
    environment = _blocks(request, A.ENVIRONMENT)
    try:
        root, ext, _ = _req_ii(resource, A.RESOURCE_ID)
        patient = Bsn.from_ii(root, ext)
        root, ext, _ = _req_ii(resource, A.HOLDER_URA)
        holder = Ura.from_ii(root, ext)
        holder_type = ProviderType(_req_cv(resource, A.HOLDER_TYPE, naming.PROVIDER_TYPE_OID))
        categories = []
        for block in _blocks(request, A.ACTION):
            categories.append(
                DataCategory.from_code(_req_cv([block], A.EVENT_CODE, naming.MITZ_DATA_CATEGORY_OID))
            )
        role = RoleCode(_req_cv(subject, A.ROLE, naming.UZI_ROLE_OID))
        pro = ProfessionalId(*_req_ii(subject, A.PROVIDER_IDENTIFIER))
        mandated = None
        if _single(subject, A.MANDATED, "InstanceIdentifier") is not None:
            mandated = ProfessionalId(*_req_ii(subject, A.MANDATED))
        root, ext, _ = _req_ii(subject, A.REQUESTER_URA)
        requester = Ura.from_ii(root, ext)
        requester_type = ProviderType(_req_cv(subject, A.REQUESTER_TYPE, naming.PROVIDER_TYPE_OID))
        purpose = Purpose(_req_cv(environment, A.PURPOSE, naming.PURPOSE_OF_USE_OID))
        question = ConsentQuestion(
            patient=patient,
            holder_ura=holder,
            holder_type=holder_type,
            requester_ura=requester,
            requester_type=requester_type,
            professional=pro,
            role=role,
            categories=tuple(categories),
            purpose=purpose,
            mandated=mandated,
        )
    except (InvalidIdentifier, ValueError) as exc:
        raise ConsentMalformedAnswer(f"invalid closed question: {type(exc).__name__}") from None
    except ConsentMalformedAnswer:
        raise
    except ConsentError as exc:
        raise ConsentMalformedAnswer(f"invalid closed question: {exc.message}") from None
    return question, message.message_id or ""
