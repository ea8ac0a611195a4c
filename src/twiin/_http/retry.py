"""A retry transport for httpx: idempotent requests, transient failures, ``Retry-After``, jitter.

Wraps any ``httpx.BaseTransport`` / ``httpx.AsyncBaseTransport`` (the real connection pool or
a test ``MockTransport``). The decision logic is shared: :class:`RetryState` says whether and how
long to wait; the two transports only sleep and resend.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

import anyio
import attrs

from twiin._http.compat import httpx
from twiin._http.errors import is_tls_failure
from twiin.config import RetryPolicy

__all__ = ["AsyncRetryTransport", "RetryState", "RetryTransport", "parse_retry_after"]

RETRY_EXTENSION = "twiin.retry"
"""Request extension: ``True`` marks a non-idempotent request safe to retry, ``False`` forbids retries."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


@attrs.define
class RetryState:
    """Per-request retry bookkeeping; pure decisions, no I/O."""

    policy: RetryPolicy
    started: float
    clock: Callable[[], float] = time.monotonic
    rng: Callable[[], float] = random.random
    attempt: int = 1

    def allowed_for(self, request: httpx.Request) -> bool:
        flag = request.extensions.get(RETRY_EXTENSION)
        if flag is not None:
            return bool(flag)
        return request.method.upper() in self.policy.idempotent_methods

    def _backoff(self) -> float:
        ceiling = min(self.policy.backoff_max, self.policy.backoff_base * 2 ** (self.attempt - 1))
        return float(ceiling * self.rng())

    def _fits(self, delay: float) -> bool:
        remaining = self.policy.deadline - (self.clock() - self.started)
        return self.attempt < self.policy.max_attempts and delay <= remaining

    def after_response(self, request: httpx.Request, response: httpx.Response) -> float | None:
        """Delay before the next attempt, or None to return ``response`` as it is."""
        if response.status_code not in self.policy.retry_statuses or not self.allowed_for(request):
            return None
        hinted = parse_retry_after(response.headers.get("retry-after"))
        if hinted is not None and hinted > self.policy.max_retry_after:
            return None
        delay = hinted if hinted is not None else self._backoff()
        return delay if self._fits(delay) else None

    def after_error(self, request: httpx.Request, exc: Exception) -> float | None:
        """Delay before the next attempt, or None to re-raise ``exc``."""
        if not isinstance(exc, httpx.TransportError) or is_tls_failure(exc):
            return None
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if request.extensions.get(RETRY_EXTENSION) is False:
            return None
        if not never_sent and not self.allowed_for(request):
            return None  # the request may have reached the server: only idempotent ones go again
        delay = self._backoff()
        return delay if self._fits(delay) else None


class RetryTransport(httpx.BaseTransport):
    """Synchronous retrying wrapper around another transport."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._inner, self._policy = inner, policy
        self._sleep, self._clock, self._rng = sleep, clock, rng

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        state = RetryState(self._policy, self._clock(), self._clock, self._rng)
        while True:
            try:
                response = self._inner.handle_request(request)
            except Exception as exc:
                delay = state.after_error(request, exc)
                if delay is None:
                    raise
            else:
                delay = state.after_response(request, response)
                if delay is None:
                    return response
                response.close()
            self._sleep(delay)
            state.attempt += 1

    def close(self) -> None:
        self._inner.close()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """Asynchronous retrying wrapper around another transport."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._inner, self._policy = inner, policy
        self._clock, self._rng = clock, rng

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        state = RetryState(self._policy, self._clock(), self._clock, self._rng)
        while True:
            try:
                response = await self._inner.handle_async_request(request)
            except Exception as exc:
                delay = state.after_error(request, exc)
                if delay is None:
                    raise
            else:
                delay = state.after_response(request, response)
                if delay is None:
                    return response
                await response.aclose()
            await anyio.sleep(delay)
            state.attempt += 1

    async def aclose(self) -> None:
        await self._inner.aclose()
