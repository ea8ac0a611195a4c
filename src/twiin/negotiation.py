"""FHIR format negotiation for the server-side blocks: answer XML to a client that asks for it.

A FHIR server picks the response format from ``_format`` (which wins) or the ``Accept`` header.
The blocks build FHIR JSON answers; :func:`in_requested_format` re-encodes one as FHIR XML when
the request asks for XML. An answer that is not FHIR JSON (or empty) is returned unchanged.
"""

from __future__ import annotations

import json

from twiin import naming
from twiin.errors import ModelValidationError
from twiin.fhir.content import serialize
from twiin.fhir_version import FhirVersion
from twiin.redaction import get_logger
from twiin.serving import Answer, IncomingRequest

__all__ = ["in_requested_format", "wants_xml"]

_log = get_logger(__name__)
_XML_FORMATS = ("xml", "text/xml", "application/xml", naming.FHIR_XML)


def wants_xml(request: IncomingRequest) -> bool:
    """True when ``_format`` or, without it, ``Accept`` prefers FHIR XML over JSON."""
    formats = [v.strip().lower() for k, v in request.query if k == "_format"]
    if formats:
        return formats[-1].split(";", 1)[0] in _XML_FORMATS
    accept = request.headers.get("accept", "").lower()
    return "xml" in accept and "json" not in accept


def in_requested_format(request: IncomingRequest, answer: Answer, version: FhirVersion) -> Answer:
    """``answer`` re-encoded as FHIR XML when ``request`` asks for XML; otherwise unchanged.

    A body the FHIR model of ``version`` cannot represent stays JSON (logged), rather than
    turning a good answer into a server error.
    """
    media = answer.headers.get("content-type", "").split(";", 1)[0].strip()
    if not answer.body or media != naming.FHIR_JSON or not wants_xml(request):
        return answer
    try:
        body = serialize(json.loads(answer.body), naming.FHIR_XML, version=version)
    except ModelValidationError as exc:
        _log.warning("answering JSON: the body has no XML form in FHIR %s (%s)", version.value, exc)
        return answer
    headers = {**answer.headers, "content-type": f"{naming.FHIR_XML}; charset=utf-8"}
    return Answer(answer.status, headers, body)
