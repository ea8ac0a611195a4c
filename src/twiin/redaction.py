"""Redaction of patient and secret data before anything is logged.

:func:`redact` removes BSNs (any nine-digit run that passes the elfproef, and the value of any
BSN identifier in JSON, XML, FHIR tokens or HL7v3 ``II``), bearer and DPoP tokens, JWTs,
OAuth form secrets and PEM blocks. :func:`get_logger` returns a twiin logger with the
:class:`RedactingFilter` attached; every twiin module logs through it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from twiin import naming
from twiin.identifiers import is_valid_bsn

__all__ = ["RedactingFilter", "RedactingFormatter", "get_logger", "redact"]

_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(?:-----END [A-Z0-9 ]+-----|\Z)", re.DOTALL)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|dpop|basic)\s+[A-Za-z0-9\-._~+/]+=*")
_FORM_SECRET = re.compile(
    r"(?i)\b(access_token|refresh_token|id_token|client_assertion|assertion|subject_token|"
    r"actor_token|client_secret|password|authorization[-_]base)=([^&\s\"']+)"
)
_JSON_SECRET = re.compile(
    r"(?i)(\"(?:access_token|refresh_token|id_token|client_assertion|assertion|client_secret|"
    r"password|authorization_base)\"\s*:\s*\")([^\"]*)(\")"
)
_BSN_TOKEN = re.compile(
    r"((?:NamingSystem/bsn|urn:oid:" + re.escape(naming.BSN_OID) + r")(?:%7C|\|))([0-9]{1,12})",
    re.IGNORECASE,
)
_BSN_JSON = re.compile(
    r"(NamingSystem/bsn\"[^{}]{0,80}?\"value\"\s*:\s*\")([^\"]*)(\")"
    r"|(\"value\"\s*:\s*\")([^\"]*)(\"[^{}]{0,80}?NamingSystem/bsn\")"
)
_BSN_II = re.compile(
    r"(extension=\")([^\"]*)(\"[^<>]{0,80}?root=\"" + re.escape(naming.BSN_OID) + r"\")"
    r"|(root=\"" + re.escape(naming.BSN_OID) + r"\"[^<>]{0,80}?extension=\")([^\"]*)(\")"
)
_NINE_DIGITS = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")

BSN_MASK = "[BSN]"
SECRET_MASK = "[REDACTED]"  # noqa: S105 - the mask, not a secret


def _mask_groups(match: re.Match[str]) -> str:
    groups = list(match.groups())
    # patterns are alternations of (prefix)(value)(suffix) triples; keep prefix/suffix
    for i in range(0, len(groups), 3):
        if groups[i] is not None:
            return f"{groups[i]}{BSN_MASK}{groups[i + 2]}"
    return BSN_MASK  # pragma: no cover - every alternative has a prefix group


def _mask_valid_bsn(match: re.Match[str]) -> str:
    return BSN_MASK if is_valid_bsn(match.group(0)) else match.group(0)


def redact(text: str) -> str:
    """Return ``text`` with BSNs, tokens, assertions, secrets and PEM blocks masked."""
    text = _PEM.sub("[PEM REDACTED]", text)
    text = _JWT.sub("[JWT]", text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {SECRET_MASK}", text)
    text = _FORM_SECRET.sub(lambda m: f"{m.group(1)}={SECRET_MASK}", text)
    text = _JSON_SECRET.sub(lambda m: f"{m.group(1)}{SECRET_MASK}{m.group(3)}", text)
    text = _BSN_TOKEN.sub(lambda m: f"{m.group(1)}{BSN_MASK}", text)
    text = _BSN_JSON.sub(_mask_groups, text)
    text = _BSN_II.sub(_mask_groups, text)
    return _NINE_DIGITS.sub(_mask_valid_bsn, text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the rendered message and any exception text of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not leak the raw args
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RedactingFormatter(logging.Formatter):
    """A formatter that redacts the final line; use it on handlers that also see other loggers."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


_FILTER = RedactingFilter()


def get_logger(name: str) -> logging.Logger:
    """A logger under ``twiin`` with redaction attached (filters are not inherited by children)."""
    logger = logging.getLogger(name if name.startswith("twiin") else f"twiin.{name}")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def safe_repr(value: Any) -> str:
    """``repr`` of ``value``, redacted."""
    return redact(repr(value))
