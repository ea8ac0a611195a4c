"""Subscription client facades (sync and async): create, read, retire, ``$status``, ``$events``, fetch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from twiin._http import asend, send
from twiin._http.compat import httpx
from twiin.errors import PreconditionFailedError
from twiin.exchange.notifications.model import Notification, SubscriptionStatus
from twiin.exchange.notifications.parse import parse_events_bundle, parse_status_bundle
from twiin.exchange.notifications.subscription import Call, check_answer, retired

__all__ = ["AsyncSubscriptionClient", "SubscriptionClient"]

_RETIRE_ATTEMPTS = 3


def _request(call: Call) -> httpx.Request:
    return httpx.Request(call.method, call.url, headers=dict(call.headers), content=call.body)


def _version(resource: Mapping[str, Any]) -> str | None:
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, Mapping) else None
    return version if isinstance(version, str) else None


class SubscriptionClient:
    """Talks to a data holder's Subscription endpoint (``base_url`` is its FHIR base)."""

    def __init__(self, http: httpx.Client, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    def _do(self, call: Call) -> dict[str, Any]:
        response = send(self.http, _request(call))
        return check_answer(call, response.status_code, response.headers, response.content)

    def create(self, subscription: Mapping[str, Any]) -> dict[str, Any]:
        """POST a Subscription built by :func:`build_subscription`; returns the stored resource."""
        return self._do(Call.create(self.base_url, subscription))

    def read(self, sub_id: str) -> dict[str, Any]:
        """GET one Subscription."""
        return self._do(Call.read(self.base_url, sub_id))

    def retire(self, sub_id: str) -> dict[str, Any]:
        """Set ``status = off`` with a version-aware PUT (re-read on 412); never DELETE."""
        for attempt in range(_RETIRE_ATTEMPTS):
            current = self.read(sub_id)
            try:
                return self._do(Call.update(self.base_url, retired(current), _version(current)))
            except PreconditionFailedError:
                if attempt == _RETIRE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def status(self, sub_id: str | None = None, statuses: Sequence[str] = ()) -> list[SubscriptionStatus]:
        """``$status`` of one Subscription, or of all ours (filtered by status)."""
        return parse_status_bundle(self._do(Call.status(self.base_url, sub_id, statuses)))

    def events(
        self, sub_id: str, since: int | None = None, until: int | None = None, content: str | None = None
    ) -> Notification:
        """``$events`` between two event numbers (inclusive)."""
        return parse_events_bundle(self._do(Call.events(self.base_url, sub_id, since, until, content)))

    def fetch(self, url: str) -> dict[str, Any]:
        """GET an absolute focus URL on the data holder (id-only notifications)."""
        return self._do(Call.fetch(self.base_url, url))


class AsyncSubscriptionClient:
    """Async twin of :class:`SubscriptionClient`."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    async def _do(self, call: Call) -> dict[str, Any]:
        response = await asend(self.http, _request(call))
        return check_answer(call, response.status_code, response.headers, response.content)

    async def create(self, subscription: Mapping[str, Any]) -> dict[str, Any]:
        """POST a Subscription built by :func:`build_subscription`; returns the stored resource."""
        return await self._do(Call.create(self.base_url, subscription))

    async def read(self, sub_id: str) -> dict[str, Any]:
        """GET one Subscription."""
        return await self._do(Call.read(self.base_url, sub_id))

    async def retire(self, sub_id: str) -> dict[str, Any]:
        """Set ``status = off`` with a version-aware PUT (re-read on 412); never DELETE."""
        for attempt in range(_RETIRE_ATTEMPTS):
            current = await self.read(sub_id)
            try:
                return await self._do(Call.update(self.base_url, retired(current), _version(current)))
            except PreconditionFailedError:
                if attempt == _RETIRE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def status(
        self, sub_id: str | None = None, statuses: Sequence[str] = ()
    ) -> list[SubscriptionStatus]:
        """``$status`` of one Subscription, or of all ours (filtered by status)."""
        return parse_status_bundle(await self._do(Call.status(self.base_url, sub_id, statuses)))

    async def events(
        self, sub_id: str, since: int | None = None, until: int | None = None, content: str | None = None
    ) -> Notification:
        """``$events`` between two event numbers (inclusive)."""
        return parse_events_bundle(await self._do(Call.events(self.base_url, sub_id, since, until, content)))

    async def fetch(self, url: str) -> dict[str, Any]:
        """GET an absolute focus URL on the data holder (id-only notifications)."""
        return await self._do(Call.fetch(self.base_url, url))
