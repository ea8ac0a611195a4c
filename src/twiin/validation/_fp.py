"""Small FHIRPath building blocks over FHIR JSON (dicts), with FHIRPath's empty-collection logic.

Booleans are three-valued as in FHIRPath: ``True``, ``False`` or ``None`` (the empty
collection). An invariant holds only when its expression yields ``True``; an empty result
counts as a violation, as in the HL7 reference validator.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

Tri = bool | None

STRING_TYPES = frozenset({"String", "Code", "Uri", "Url", "Canonical", "Id", "Oid", "Uuid", "Markdown"})


def children(nodes: Iterable[Any], name: str) -> list[Any]:
    """FHIRPath child navigation: ``nodes.name`` with arrays flattened."""
    out: list[Any] = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        value = node.get(name)
        if value is None:
            continue
        if isinstance(value, list):
            out.extend(v for v in value if v is not None)
        else:
            out.append(value)
    return out


def path(node: Any, *names: str) -> list[Any]:
    """``node.a.b.c`` as a collection."""
    nodes: list[Any] = [node]
    for name in names:
        nodes = children(nodes, name)
    return nodes


def choice(node: Any, prefix: str = "value") -> tuple[str, Any] | None:
    """The ``value[x]`` of ``node`` as ``(TypeName, value)``, e.g. ``("Reference", {...})``."""
    if not isinstance(node, dict):
        return None
    size = len(prefix)
    for key, value in node.items():
        if len(key) > size and key.startswith(prefix) and key[size].isupper() and value is not None:
            return key[size:], value
    return None


def values(nodes: Iterable[Any], prefix: str = "value") -> list[tuple[str, Any]]:
    """``nodes.value`` (polymorphic) as typed items."""
    out: list[tuple[str, Any]] = []
    for node in nodes:
        found = choice(node, prefix)
        if found is not None:
            out.append(found)
    return out


def of_type(items: Iterable[tuple[str, Any]], type_name: str) -> list[Any]:
    """``ofType(T)``: exact FHIR type match (``string`` does not match ``code``)."""
    wanted = type_name[0].upper() + type_name[1:]
    return [value for name, value in items if name == wanted]


def typed_equals(items: list[tuple[str, Any]], literal: str) -> Tri:
    """``value = 'literal'`` on a polymorphic value collection."""
    if not items:
        return None
    if len(items) != 1:
        return False
    name, value = items[0]
    return name in STRING_TYPES and value == literal


def equals(items: list[Any], literal: str) -> Tri:
    """``element = 'literal'`` on a primitive collection."""
    if not items:
        return None
    if len(items) != 1:
        return False
    return isinstance(items[0], str) and items[0] == literal


def where_param(params: Iterable[Any], name: str) -> list[Any]:
    """``parameter.where(name = 'x')`` (also works for ``part``)."""
    return [p for p in params if isinstance(p, dict) and p.get("name") == name]


def matches(items: list[Any], pattern: re.Pattern[str]) -> Tri:
    """``matches(regex)`` on a singleton string; empty in, empty out."""
    if not items:
        return None
    if len(items) != 1 or not isinstance(items[0], str):
        return False
    return pattern.search(items[0]) is not None


def not_(value: Tri) -> Tri:
    """FHIRPath ``not()``."""
    return None if value is None else not value


def or_(*operands: Tri) -> Tri:
    """FHIRPath ``or`` (true wins, then empty)."""
    if any(v is True for v in operands):
        return True
    if any(v is None for v in operands):
        return None
    return False


def and_(*operands: Tri) -> Tri:
    """FHIRPath ``and`` (false wins, then empty)."""
    if any(v is False for v in operands):
        return False
    if any(v is None for v in operands):
        return None
    return True


def implies(left: Tri, right: Tri) -> Tri:
    """FHIRPath ``implies``."""
    if left is True:
        return right
    if left is False:
        return True
    return True if right is True else None


def all_(results: Iterable[Tri]) -> bool:
    """FHIRPath ``all(criteria)``: true on an empty input; an empty criterion counts as false."""
    return all(r is True for r in results)


def has_coding(concepts: Iterable[Any], system: str, code: str) -> bool:
    """``concept.coding.where(system = s and code = c).exists()``."""
    return any(
        isinstance(c, dict) and c.get("system") == system and c.get("code") == code
        for c in children(concepts, "coding")
    )


def descendants(node: Any) -> Iterable[Any]:
    """Every value below ``node`` (FHIRPath ``descendants()``), including primitive extensions."""
    stack: list[Any] = [node]
    while stack:
        current = stack.pop()
        items: Iterable[Any]
        if isinstance(current, dict):
            items = current.values()
        elif isinstance(current, list):
            items = current
        else:
            continue
        for item in items:
            if isinstance(item, dict):
                yield item
                stack.append(item)
            elif isinstance(item, list):
                stack.append(item)
