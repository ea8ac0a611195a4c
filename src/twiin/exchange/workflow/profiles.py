"""Twiin profile checks before sending: a created resource must be valid, an update may not break it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twiin.validation import errors_only, raise_for_errors, validate

__all__ = ["check_changed", "check_new"]


def check_new(resource: Mapping[str, Any]) -> None:
    """Raise :class:`~twiin.errors.ProfileValidationError` when ``resource`` breaks its profile."""
    raise_for_errors(validate(resource))


def check_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Raise :class:`~twiin.errors.ProfileValidationError` for profile errors the change introduces.

    Errors already present in ``old`` (a Placer's imperfect Task) do not block a Fulfiller's update.
    """
    before = {(i.key, i.path) for i in errors_only(validate(old))}
    raise_for_errors([i for i in validate(new) if (i.key, i.path) not in before])
