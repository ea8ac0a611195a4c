"""Search parameter definitions and matching for the in-memory FHIR store.

Covers what the Twiin patterns use: token, reference (with ``:identifier`` and one-level
``.identifier`` chains), string, date (with prefixes) and the ``_id``/``_lastUpdated`` specials.
A parameter the store does not know is an error, never a silently empty result.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import attrs

Kind = Literal["token", "reference", "string", "date"]


@attrs.frozen
class ParamDef:
    """One search parameter: its kind and the element paths it reads."""

    kind: Kind
    paths: tuple[str, ...]


_COMMON: dict[str, ParamDef] = {
    "_id": ParamDef("token", ("id",)),
    "_lastUpdated": ParamDef("date", ("meta.lastUpdated",)),
    "identifier": ParamDef("token", ("identifier",)),
    "status": ParamDef("token", ("status",)),
    "code": ParamDef("token", ("code",)),
    "category": ParamDef("token", ("category",)),
    "type": ParamDef("token", ("type",)),
    "class": ParamDef("token", ("class",)),
    "active": ParamDef("token", ("active",)),
    "intent": ParamDef("token", ("intent",)),
    "business-status": ParamDef("token", ("businessStatus",)),
    "connection-type": ParamDef("token", ("connectionType",)),
    "payload-type": ParamDef("token", ("payloadType",)),
    "role": ParamDef("token", ("code",)),
    "name": ParamDef("string", ("name", "name.family", "name.given", "name.text", "alias")),
    "family": ParamDef("string", ("name.family",)),
    "given": ParamDef("string", ("name.given",)),
    "address-city": ParamDef("string", ("address.city",)),
    "patient": ParamDef("reference", ("subject", "patient", "for", "beneficiary", "participant.actor")),
    "subject": ParamDef("reference", ("subject", "for")),
    "organization": ParamDef("reference", ("organization", "managingOrganization", "providedBy")),
    "partof": ParamDef("reference", ("partOf",)),
    "endpoint": ParamDef("reference", ("endpoint",)),
    "owner": ParamDef("reference", ("owner",)),
    "requester": ParamDef("reference", ("requester", "requester.agent", "requester.onBehalfOf")),
    "based-on": ParamDef("reference", ("basedOn",)),
    "focus": ParamDef("reference", ("focus",)),
    "general-practitioner": ParamDef("reference", ("generalPractitioner",)),
    "practitioner": ParamDef("reference", ("practitioner",)),
    "location": ParamDef("reference", ("location", "location.location")),
    "payor": ParamDef("reference", ("payor",)),
    "medication": ParamDef("reference", ("medicationReference",)),
    "device": ParamDef("reference", ("device",)),
    "specimen": ParamDef("reference", ("specimen",)),
    "related-target": ParamDef("reference", ("related.target",)),
    "service": ParamDef("reference", ("healthcareService",)),
    "date": ParamDef(
        "date",
        ("effectiveDateTime", "effectivePeriod.start", "date", "recordedDate", "period.start", "authoredOn"),
    ),
    "authored-on": ParamDef("date", ("authoredOn",)),
    "authored": ParamDef("date", ("authoredOn",)),
}

RESULT_PARAMS = frozenset(
    {"_count", "_offset", "_include", "_revinclude", "_sort", "_format", "_pretty", "_total"}
)


def param_def(name: str) -> ParamDef | None:
    """The definition of search parameter ``name`` (without modifier), or None."""
    return _COMMON.get(name)


def values_at(resource: Any, path: str) -> Iterator[Any]:
    """Every value at dotted ``path`` (lists flattened) in a JSON resource."""
    current: list[Any] = [resource]
    for step in path.split("."):
        nxt: list[Any] = []
        for item in current:
            if isinstance(item, Mapping) and step in item:
                value = item[step]
                nxt.extend(value if isinstance(value, list) else [value])
        current = nxt
    yield from current


def _codings(value: Any) -> Iterator[tuple[str | None, str]]:
    if isinstance(value, bool):
        yield None, "true" if value else "false"
    elif isinstance(value, str):
        yield None, value
    elif isinstance(value, Mapping):
        if "coding" in value:
            for coding in value.get("coding") or []:
                yield from _codings(coding)
        elif "value" in value:
            yield value.get("system"), str(value.get("value", ""))
        elif "code" in value:
            yield value.get("system"), str(value["code"])


def match_token(values: Iterable[Any], query: str) -> bool:
    """FHIR token semantics: ``code``, ``system|code``, ``|code`` or ``system|``."""
    if "|" in query:
        system, _, code = query.partition("|")
        want_system: str | None = system
    else:
        want_system, code = None, query
    for value in values:
        for sys_, val in _codings(value):
            if want_system is not None and (sys_ or "") != want_system:
                continue
            if code in ("", val):
                return True
    return False


def relative_reference(ref: str) -> str:
    """``Type/id`` of an absolute or relative (possibly versioned) reference."""
    parts = ref.split("/_history/", maxsplit=1)[0].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else parts[0]


def reference_targets(value: Any) -> Iterator[str]:
    """Relative references (``Type/id``) a Reference element points at."""
    if isinstance(value, Mapping) and isinstance(value.get("reference"), str):
        yield relative_reference(value["reference"])


def match_reference(values: Iterable[Any], query: str) -> bool:
    """Match ``Type/id`` or a bare id against Reference values."""
    for value in values:
        for target in reference_targets(value):
            if target == query or target.rsplit("/", 1)[-1] == query:
                return True
    return False


def match_reference_identifier(values: Iterable[Any], query: str) -> bool:
    """``:identifier`` modifier: match ``Reference.identifier`` as a token."""
    return any(
        isinstance(v, Mapping) and v.get("identifier") is not None and match_token([v["identifier"]], query)
        for v in values
    )


def fold(text: str) -> str:
    """``text`` without case and accents, as FHIR string search compares (``Müller`` ~ ``muller``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def match_string(values: Iterable[Any], query: str, modifier: str | None) -> bool:
    """String semantics: case- and accent-insensitive prefix (default), ``:contains``, or ``:exact``."""
    needle = fold(query)
    for value in values:
        texts = [value] if isinstance(value, str) else []
        if isinstance(value, Mapping):
            texts = [str(v) for k, v in value.items() if isinstance(v, str)]
            texts += [g for g in value.get("given", []) if isinstance(g, str)]
        for text in texts:
            if modifier == "exact" and text == query:
                return True
            if modifier == "contains" and needle in fold(text):
                return True
            if modifier is None and fold(text).startswith(needle):
                return True
    return False


_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


def parse_instant(text: str) -> datetime:
    """Parse a FHIR date/dateTime/instant (partial dates to their start) as an aware datetime."""
    return date_range(text)[0]


_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")
_FRACTION = re.compile(r"\.(\d+)")


def date_range(text: str) -> tuple[datetime, datetime]:
    """The range ``[start, end)`` a FHIR date/dateTime/instant covers at its precision (UTC if no zone).

    ``2024`` is the whole year, ``2024-06`` the month, ``2024-06-01`` the day, a time to the second
    that second, and a time with ``n`` fraction digits ``10**-n`` seconds. ``ValueError`` otherwise.
    """
    value = text.strip()
    partial = _PARTIAL_DATE.match(value)
    if partial:
        year, month, day = (int(g) if g else None for g in partial.groups())
        start = datetime(year or 1, month or 1, day or 1, tzinfo=UTC)
        if month is None:
            return start, start.replace(year=start.year + 1)
        if day is None:
            return start, (start + timedelta(days=32)).replace(day=1)
        return start, start + timedelta(days=1)
    if "T" not in value:
        raise ValueError(f"not a FHIR date: {value[:40]!r}")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    time_part = value.partition("T")[2]
    fraction = _FRACTION.search(time_part)
    digits = len(fraction.group(1)) if fraction else 0
    if digits:
        return parsed, parsed + timedelta(microseconds=10 ** (6 - min(digits, 6)))
    return parsed, parsed + timedelta(seconds=1)


def parse_date_query(query: str) -> tuple[str, datetime, datetime]:
    """(prefix, start, end) of a date search value; ``ValueError`` when it is not a date."""
    prefix = query[:2] if query[:2] in _PREFIXES else "eq"
    raw = query[2:] if query[:2] in _PREFIXES else query
    start, end = date_range(raw)
    return prefix, start, end


_DATE_OPS: dict[str, Callable[[datetime, datetime, datetime, datetime], bool]] = {
    # (search start, search end, target start, target end), ranges half-open, as FHIR compares them
    "eq": lambda lo, hi, tlo, thi: lo <= tlo and thi <= hi,
    "ne": lambda lo, hi, tlo, thi: not (lo <= tlo and thi <= hi),
    "gt": lambda lo, hi, tlo, thi: thi > hi,
    "lt": lambda lo, hi, tlo, thi: tlo < lo,
    "ge": lambda lo, hi, tlo, thi: thi > lo,
    "le": lambda lo, hi, tlo, thi: tlo < hi,
    "sa": lambda lo, hi, tlo, thi: tlo >= hi,
    "eb": lambda lo, hi, tlo, thi: thi <= lo,
}


def match_date(values: Iterable[Any], query: str) -> bool:
    """Date comparison with FHIR prefixes, each value and the query taken as ranges at their precision."""
    prefix, lo, hi = parse_date_query(query)
    compare = _DATE_OPS[prefix]
    for value in values:
        if isinstance(value, str):
            try:
                tlo, thi = date_range(value)
            except ValueError:
                continue
            if compare(lo, hi, tlo, thi):
                return True
    return False
