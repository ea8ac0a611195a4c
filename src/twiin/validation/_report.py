"""Collects issues for one profile run; structural helpers (cardinality, fixed values, bindings)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from twiin.validation._fp import Tri
from twiin.validation._invariants import INVARIANTS
from twiin.validation._issues import Severity, ValidationIssue


class Report:
    """Issues found while checking one resource against one profile."""

    def __init__(self, profile: str, issues: list[ValidationIssue] | None = None) -> None:
        self.profile = profile
        self.issues: list[ValidationIssue] = issues if issues is not None else []

    def invariant(self, key: str, result: Tri, path: str) -> bool:
        """Record ``key`` unless ``result`` is true; returns whether it held."""
        if result is True:
            return True
        inv = INVARIANTS[key]
        self.issues.append(ValidationIssue(key, inv.severity, path, f"{key}: {inv.human}"))
        return False

    def add(self, key: str, path: str, message: str, severity: Severity = "error") -> None:
        """Record a structural issue."""
        self.issues.append(ValidationIssue(key, severity, path, message))

    def cardinality(self, path: str, items: Collection[Any], low: int, high: int | None) -> bool:
        """Check ``low..high`` (``None`` = ``*``) of ``items``."""
        count = len(items)
        if count >= low and (high is None or count <= high):
            return True
        bound = "*" if high is None else str(high)
        self.add(
            "cardinality",
            path,
            f"{path}: found {count} but the profile {self.profile} requires {low}..{bound}",
        )
        return False

    def required(self, node: Any, parent: str, name: str, high: int | None = 1) -> list[Any]:
        """The children ``name`` of ``node`` after checking ``1..high``."""
        found = _items(node, name)
        self.cardinality(f"{parent}.{name}", found, 1, high)
        return found

    def fixed(self, path: str, actual: Any, expected: str) -> bool:
        """Check a fixed (or pattern) primitive value; ``actual`` absent is a cardinality matter.

        The message never repeats the actual value (it might be an identifier).
        """
        if actual is None or actual == expected:
            return True
        self.add(
            "fixed-value",
            path,
            f"{path}: the value is fixed to '{expected}' in the profile {self.profile}",
        )
        return False

    def binding(self, path: str, actual: Any, allowed: Collection[str], what: str) -> bool:
        """Check a required binding to a small closed set of codes."""
        if actual is None or (isinstance(actual, str) and actual in allowed):
            return True
        options = ", ".join(sorted(allowed))
        self.add(
            "binding",
            path,
            f"{path}: not in the required value set {what} ({options}) of the profile {self.profile}",
        )
        return False


def _items(node: Any, name: str) -> list[Any]:
    if not isinstance(node, dict):
        return []
    value = node.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
