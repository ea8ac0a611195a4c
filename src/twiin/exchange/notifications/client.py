"""Subscription client facades over :class:`twiin.fhir.FhirClient` / :class:`~twiin.fhir.AsyncFhirClient`:
create, read, retire (``status = off``, never DELETE), ``$status``, ``$events`` and focus reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from twiin.errors import FHIRError, PreconditionFailedError
from twiin.exchange.notifications.model import Notification, SubscriptionStatus
from twiin.exchange.notifications.parse import parse_events_bundle, parse_status_bundle
from twiin.exchange.notifications.subscription import (
    checked_focus,
    checked_id,
    checked_subscription,
    events_query,
    retired,
    status_query,
)
from twiin.fhir import AsyncFhirClient, FhirClient, FhirResult

__all__ = ["AsyncSubscriptionClient", "SubscriptionClient"]

_RETIRE_ATTEMPTS = 3


def _json(result: FhirResult) -> dict[str, Any]:
    if not isinstance(result.json, dict):
        raise FHIRError("answer carries no FHIR JSON resource", status=result.status, url=result.url)
    return result.json


def _version(resource: Mapping[str, Any]) -> str | None:
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, Mapping) else None
    return version if isinstance(version, str) else None


class SubscriptionClient:
    """Talks to a data holder's Subscription endpoint through a :class:`FhirClient` (R4).

    A ``raw=True`` FhirClient avoids model round-trips; typed clients work as well.
    """

    def __init__(self, fhir: FhirClient) -> None:
        self.fhir = fhir

    @property
    def base_url(self) -> str:
        """The data holder's FHIR base."""
        return self.fhir.base_url

    def create(self, subscription: Mapping[str, Any]) -> dict[str, Any]:
        """POST a Subscription (see :func:`build_subscription`), checked against its profile first."""
        return _json(self.fhir.create(checked_subscription(subscription)))

    def read(self, sub_id: str) -> dict[str, Any]:
        """GET one Subscription."""
        return _json(self.fhir.read("Subscription", checked_id(sub_id)))

    def retire(self, sub_id: str) -> dict[str, Any]:
        """Set ``status = off`` with a version-aware PUT (re-read on 412); never DELETE."""
        for attempt in range(_RETIRE_ATTEMPTS):
            current = self.read(sub_id)
            try:
                return _json(self.fhir.update(retired(current), if_match=_version(current)))
            except PreconditionFailedError:
                if attempt == _RETIRE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def status(self, sub_id: str | None = None, statuses: Sequence[str] = ()) -> list[SubscriptionStatus]:
        """``$status`` of one Subscription, or of all ours (filtered by status)."""
        if sub_id is not None:
            result = self.fhir.operation("status", type="Subscription", id=checked_id(sub_id))
        else:
            result = self.fhir.operation("status", type="Subscription", params=status_query(statuses) or None)
        return parse_status_bundle(_json(result))

    def events(
        self, sub_id: str, since: int | None = None, until: int | None = None, content: str | None = None
    ) -> Notification:
        """``$events`` between two event numbers (inclusive)."""
        query = events_query(since, until, content) or None
        result = self.fhir.operation("events", type="Subscription", id=checked_id(sub_id), params=query)
        return parse_events_bundle(_json(result))

    def fetch(self, url: str) -> dict[str, Any]:
        """GET an absolute focus URL on the data holder (id-only notifications)."""
        return _json(self.fhir.search_url(checked_focus(self.base_url, url)))


class AsyncSubscriptionClient:
    """Async twin of :class:`SubscriptionClient` over an :class:`AsyncFhirClient`."""

    def __init__(self, fhir: AsyncFhirClient) -> None:
        self.fhir = fhir

    @property
    def base_url(self) -> str:
        """The data holder's FHIR base."""
        return self.fhir.base_url

    async def create(self, subscription: Mapping[str, Any]) -> dict[str, Any]:
        """POST a Subscription (see :func:`build_subscription`), checked against its profile first."""
        return _json(await self.fhir.create(checked_subscription(subscription)))

    async def read(self, sub_id: str) -> dict[str, Any]:
        """GET one Subscription."""
        return _json(await self.fhir.read("Subscription", checked_id(sub_id)))

    async def retire(self, sub_id: str) -> dict[str, Any]:
        """Set ``status = off`` with a version-aware PUT (re-read on 412); never DELETE."""
        for attempt in range(_RETIRE_ATTEMPTS):
            current = await self.read(sub_id)
            try:
                return _json(await self.fhir.update(retired(current), if_match=_version(current)))
            except PreconditionFailedError:
                if attempt == _RETIRE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def status(
        self, sub_id: str | None = None, statuses: Sequence[str] = ()
    ) -> list[SubscriptionStatus]:
        """``$status`` of one Subscription, or of all ours (filtered by status)."""
        if sub_id is not None:
            result = await self.fhir.operation("status", type="Subscription", id=checked_id(sub_id))
        else:
            result = await self.fhir.operation(
                "status", type="Subscription", params=status_query(statuses) or None
            )
        return parse_status_bundle(_json(result))

    async def events(
        self, sub_id: str, since: int | None = None, until: int | None = None, content: str | None = None
    ) -> Notification:
        """``$events`` between two event numbers (inclusive)."""
        query = events_query(since, until, content) or None
        result = await self.fhir.operation("events", type="Subscription", id=checked_id(sub_id), params=query)
        return parse_events_bundle(_json(result))

    async def fetch(self, url: str) -> dict[str, Any]:
        """GET an absolute focus URL on the data holder (id-only notifications)."""
        return _json(await self.fhir.search_url(checked_focus(self.base_url, url)))
