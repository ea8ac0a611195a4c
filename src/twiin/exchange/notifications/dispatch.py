"""Deliver queued notifications to rest-hook endpoints with retries and exponential backoff.

A failed delivery (after its retries) marks the Subscription ``error``; the events stay
available through ``$events`` so the client can catch up.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import anyio
import attrs

from twiin._http import asend, send
from twiin._http.compat import httpx
from twiin.errors import TLSError, TransportError
from twiin.exchange.notifications.server import Delivery, SubscriptionServerCore
from twiin.redaction import get_logger

__all__ = ["AsyncDispatcher", "DeliveryPolicy", "Dispatcher", "outcome"]

log = get_logger(__name__)
_MAX_ANSWER = 64 * 1024


@attrs.frozen
class DeliveryPolicy:
    """Attempts and backoff for one notification: ``base * 2**(n-1)`` capped, with jitter."""

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    timeout: float = 10.0

    def delay(self, attempt: int, jitter: float) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based); ``jitter`` in [0, 1)."""
        ceiling = float(min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))
        return ceiling * (0.5 + jitter / 2)


def outcome(status: int) -> str:
    """``ok`` (2xx), ``retry`` (408, 429, 5xx) or ``fail`` (other 4xx, 3xx)."""
    if 200 <= status < 300:
        return "ok"
    if status in (408, 429) or status >= 500:
        return "retry"
    return "fail"


def _request(delivery: Delivery, policy: DeliveryPolicy) -> httpx.Request:
    timeout = delivery.timeout or policy.timeout
    return httpx.Request(
        "POST",
        delivery.endpoint,
        content=delivery.body,
        headers=dict(delivery.headers),
        extensions={"timeout": httpx.Timeout(timeout).as_dict()},
    )


def _now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Synchronous delivery of a :class:`SubscriptionServerCore`'s queued notifications."""

    def __init__(
        self,
        core: SubscriptionServerCore,
        client: httpx.Client,
        policy: DeliveryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = _now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.core = core
        self.client = client
        self.policy = policy or DeliveryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter

    def deliver(self, delivery: Delivery) -> bool:
        """POST one notification, retrying transient failures; records the outcome on the core."""
        ok = False
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                verdict = outcome(
                    send(self.client, _request(delivery, self.policy), max_bytes=_MAX_ANSWER).status_code
                )
            except TLSError:
                verdict = "fail"  # never retried: the peer's identity is wrong, not the network
            except TransportError as exc:
                verdict = "retry"
                log.debug("delivery attempt %d failed: %s", attempt, type(exc).__name__)
            if verdict != "retry":
                ok = verdict == "ok"
                break
            if attempt < self.policy.max_attempts:
                self._sleep(self.policy.delay(attempt, self._jitter()))
        self.core.delivered(delivery, ok, self._clock())
        return ok

    def run_pending(self) -> list[tuple[Delivery, bool]]:
        """Deliver everything queued, in order."""
        return [(d, self.deliver(d)) for d in self.core.take_pending()]

    def tick(self) -> list[tuple[Delivery, bool]]:
        """Queue due heartbeats, then deliver everything queued."""
        self.core.due_heartbeats(self._clock())
        return self.run_pending()


class AsyncDispatcher:
    """Asynchronous delivery of a :class:`SubscriptionServerCore`'s queued notifications."""

    def __init__(
        self,
        core: SubscriptionServerCore,
        client: httpx.AsyncClient,
        policy: DeliveryPolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], datetime] = _now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.core = core
        self.client = client
        self.policy = policy or DeliveryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter

    async def deliver(self, delivery: Delivery) -> bool:
        """POST one notification, retrying transient failures; records the outcome on the core."""
        ok = False
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                answer = await asend(self.client, _request(delivery, self.policy), max_bytes=_MAX_ANSWER)
                verdict = outcome(answer.status_code)
            except TLSError:
                verdict = "fail"  # never retried: the peer's identity is wrong, not the network
            except TransportError as exc:
                verdict = "retry"
                log.debug("delivery attempt %d failed: %s", attempt, type(exc).__name__)
            if verdict != "retry":
                ok = verdict == "ok"
                break
            if attempt < self.policy.max_attempts:
                await self._sleep(self.policy.delay(attempt, self._jitter()))
        self.core.delivered(delivery, ok, self._clock())
        return ok

    async def run_pending(self) -> list[tuple[Delivery, bool]]:
        """Deliver everything queued, in order."""
        return [(d, await self.deliver(d)) for d in self.core.take_pending()]

    async def tick(self) -> list[tuple[Delivery, bool]]:
        """Queue due heartbeats, then deliver everything queued."""
        self.core.due_heartbeats(self._clock())
        return await self.run_pending()
