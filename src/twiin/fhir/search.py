"""Typed FHIR search parameters: modifiers, prefixes, chains, ``_include``/``_revinclude``, paging.

:class:`SearchParams` is immutable; every method returns a new instance, so a base query can be
shared and refined. Values may be strings, numbers, booleans, dates, or identifier values such as
:class:`~twiin.identifiers.Bsn` / :class:`~twiin.identifiers.Ura` (anything with ``to_token()``),
which become ``system|value`` tokens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import attrs

from twiin.errors import ConfigurationError

__all__ = ["SearchParams", "encode_value", "query_string"]

_PREFIXES = frozenset({"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"})
_SAFE = "|:,$/"


def encode_value(value: Any) -> str:
    """The search-string form of one value (OR-lists are joined with ``,``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ConfigurationError("search", "datetime search values need a timezone")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float | str):
        return str(value)
    token = getattr(value, "to_token", None)
    if callable(token):
        return str(token())
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(encode_value(v) for v in value)
    raise ConfigurationError("search", f"unsupported search value type {type(value).__name__}")


def query_string(items: Iterable[tuple[str, str]]) -> str:
    """URL-encode ``(name, value)`` pairs, keeping ``|``, ``:``, ``,`` and ``$`` readable."""
    return urlencode(list(items), safe=_SAFE)


def _check_name(name: str) -> str:
    if not name or any(c in name for c in "&=#? "):
        raise ConfigurationError("search", f"invalid search parameter name {name!r}")
    return name


@attrs.frozen
class SearchParams:
    """An ordered, immutable list of search parameters (repeats allowed: AND semantics)."""

    items: tuple[tuple[str, str], ...] = ()

    # --- construction -------------------------------------------------------------------

    @classmethod
    def of(cls, params: SearchParams | Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> SearchParams:
        """Coerce a mapping, a pair list or SearchParams.

        In a mapping a list value repeats the parameter (AND); use ``where(name, [a, b])`` for OR.
        """
        if params is None:
            return cls()
        if isinstance(params, SearchParams):
            return params
        pairs = params.items() if isinstance(params, Mapping) else params
        items: list[tuple[str, str]] = []
        for name, value in pairs:
            if isinstance(params, Mapping) and isinstance(value, list | tuple):
                items.extend((_check_name(name), encode_value(v)) for v in value)
            else:
                items.append((_check_name(name), encode_value(value)))
        return cls(tuple(items))

    @classmethod
    def parse(cls, query: str) -> SearchParams:
        """Parse a raw query string (leading ``?`` allowed)."""
        return cls(tuple(parse_qsl(query.lstrip("?"), keep_blank_values=True)))

    def add(self, name: str, value: Any) -> SearchParams:
        """Append ``name=value`` verbatim (after value encoding)."""
        return SearchParams((*self.items, (_check_name(name), encode_value(value))))

    def where(
        self, name: str, value: Any, *, modifier: str | None = None, prefix: str | None = None
    ) -> SearchParams:
        """Add a criterion: ``where("name", "Jan", modifier="contains")`` -> ``name:contains=Jan``;
        ``where("date", "2024-01-01", prefix="ge")`` -> ``date=ge2024-01-01``; lists mean OR."""
        key = f"{name}:{modifier}" if modifier else name
        encoded = encode_value(value)
        if prefix is not None:
            if prefix not in _PREFIXES:
                raise ConfigurationError("search", f"unknown search prefix {prefix!r}")
            encoded = ",".join(prefix + part for part in encoded.split(","))
        return self.add(key, encoded)

    def chain(self, path: Iterable[str], value: Any, *, modifier: str | None = None) -> SearchParams:
        """A chained criterion: ``chain(["organization", "identifier"], ura)`` ->
        ``organization.identifier=<system>|<value>``. Segments may carry a type
        (``"subject:Patient"``)."""
        return self.where(".".join(path), value, modifier=modifier)

    def has(self, target_type: str, reference: str, param: str, value: Any) -> SearchParams:
        """Reverse chain: ``_has:<target_type>:<reference>:<param>=value``."""
        return self.add(f"_has:{target_type}:{reference}:{param}", value)

    def include(self, spec: str, *, iterate: bool = False) -> SearchParams:
        """``_include=Type:param[:target]`` (``iterate`` adds ``:iterate``)."""
        return self.add("_include:iterate" if iterate else "_include", spec)

    def revinclude(self, spec: str, *, iterate: bool = False) -> SearchParams:
        """``_revinclude=Type:param[:target]``."""
        return self.add("_revinclude:iterate" if iterate else "_revinclude", spec)

    def count(self, n: int) -> SearchParams:
        """Page size (``_count``)."""
        if n < 0:
            raise ConfigurationError("search", "_count must be >= 0")
        return self._replace("_count", str(n))

    def sort(self, *fields: str) -> SearchParams:
        """``_sort`` on one or more fields (``-field`` for descending)."""
        return self._replace("_sort", ",".join(fields))

    def last_updated(self, value: Any, prefix: str = "ge") -> SearchParams:
        """``_lastUpdated`` with a prefix (default ``ge``)."""
        return self.where("_lastUpdated", value, prefix=prefix)

    def elements(self, *names: str) -> SearchParams:
        """``_elements`` (summary projection)."""
        return self._replace("_elements", ",".join(names))

    def summary(self, mode: str) -> SearchParams:
        """``_summary`` (``true``, ``count``, ``data``, ...)."""
        return self._replace("_summary", mode)

    def total(self, mode: str = "accurate") -> SearchParams:
        """``_total`` (``none``, ``estimate``, ``accurate``)."""
        return self._replace("_total", mode)

    def _replace(self, name: str, value: str) -> SearchParams:
        return SearchParams((*(i for i in self.items if i[0] != name), (name, value)))

    # --- output --------------------------------------------------------------------------

    def get_all(self, name: str) -> list[str]:
        """Every value given for ``name``."""
        return [v for k, v in self.items if k == name]

    def to_query(self) -> str:
        """The encoded query string (no leading ``?``)."""
        return query_string(self.items)

    def __str__(self) -> str:
        return self.to_query()

    def __bool__(self) -> bool:
        return bool(self.items)
