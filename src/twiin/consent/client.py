"""``MitzClient`` and ``AsyncMitzClient``: the closed question, open question and subscriptions over mTLS.

Both facades share the sans-I/O halves in :mod:`twiin.consent.mitz`,
:mod:`twiin.consent.open_question` and :mod:`twiin.consent.subscriptions`; each method is
build -> send -> parse. Redirects are never followed (a 3xx raises
:class:`~twiin.errors.ConsentRedirectRefused`), the answer body is capped, and nothing is
retried (a consent question is answered once or fails closed). The base URL must be ``https``;
plain ``http`` (no TLS, BSNs in the clear) needs ``allow_plaintext=True`` (tests only).
``sign_requests=True`` adds the optional XML signature of :mod:`twiin.consent.xmldsig` with the
client credentials; with an ``auditor`` every closed question is recorded (patient as
pseudonym, outcome, MessageID).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import attrs

from twiin._http import asend as _asend
from twiin._http import client_ssl_context
from twiin._http import send as _send
from twiin._http.compat import httpx
from twiin._http.holder import AsyncClientHolder, ClientHolder
from twiin.audit import Auditor, Outcome
from twiin.config import EndpointConfig, RetryPolicy, Timeouts
from twiin.consent import _attrs as A
from twiin.consent._soap import new_message_id
from twiin.consent.mitz import DEFAULT_OPTIONS, MitzOptions, build_closed_question, closed_question_headers
from twiin.consent.mitz import parse_closed_answer as _parse_closed
from twiin.consent.model import ConsentDecision, ConsentQuestion
from twiin.consent.open_question import (
    OpenQuestion,
    PatientLocation,
    build_open_question,
    open_question_headers,
    parse_open_answer,
)
from twiin.consent.subscriptions import MitzSubscriptions, SubscriptionReceipt, SubscriptionRequest
from twiin.consent.xmldsig import sign_closed_question
from twiin.credentials import Credentials, TrustAnchors
from twiin.errors import ConfigurationError, ConsentRedirectRefused, TwiinError
from twiin.redaction import get_logger

__all__ = ["AsyncMitzClient", "MitzClient", "PreparedCall"]

log = get_logger(__name__)
_LOG_BYTES = 4096


@attrs.frozen(repr=False)
class PreparedCall:
    """One HTTP call to Mitz: URL, headers, body, and the MessageID it carries."""

    url: str
    headers: dict[str, str]
    body: bytes
    message_id: str | None = None

    def __repr__(self) -> str:
        return f"PreparedCall(POST {self.url}, {len(self.body)} bytes)"


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path


def _log_exchange(call: PreparedCall, response: httpx.Response, started: float) -> None:
    """DEBUG: status, timing and the start of the answer; the logger redacts every BSN (also echoed ones)."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    elapsed = (time.perf_counter() - started) * 1000
    log.debug("mitz %s -> HTTP %s in %.1f ms", call.url.rsplit("/", 1)[-1], response.status_code, elapsed)
    log.debug(
        "mitz answer (first %d bytes): %s",
        _LOG_BYTES,
        response.content[:_LOG_BYTES].decode("utf-8", "replace"),
    )


def _refuse_redirect(status: int) -> None:
    if 300 <= status < 400:
        raise ConsentRedirectRefused(f"Mitz answered a redirect (HTTP {status}); not followed", status=status)


class _Core:
    """The sans-I/O part shared by both facades."""

    def __init__(
        self,
        base_url: str,
        options: MitzOptions,
        credentials: Credentials | None,
        sign_requests: bool,
        auditor: Auditor | None,
        *,
        allow_plaintext: bool = False,
    ) -> None:
        try:
            EndpointConfig(base_url, allow_plaintext=allow_plaintext)
        except ConfigurationError as exc:
            raise ConfigurationError("consent.mitz.base_url", exc.problem) from None
        if sign_requests and credentials is None:
            raise ConfigurationError("consent.mitz.sign_requests", "signing needs credentials")
        self.base_url = base_url.rstrip("/")
        self.options = options
        self.signing = credentials if sign_requests else None
        self.auditor = auditor

    def audit(
        self,
        question: ConsentQuestion,
        call: PreparedCall,
        decision: ConsentDecision | None = None,
        error: TwiinError | None = None,
    ) -> None:
        """Record the closed question: success (all Permit), denied, or failure with the error class."""
        if self.auditor is None:
            return
        if decision is not None:
            outcome: Outcome = "success" if decision.allowed() else "denied"
            detail = ",".join(f"{c.code}={decision.decision(c).value}" for c in question.categories)
        else:
            outcome, detail = "failure", type(error).__name__
        self.auditor.record(
            "consent.mitz.closed-question",
            outcome,
            patient=question.patient,
            peer=question.requester_ura,
            professional=question.professional.extension,
            correlation_id=call.message_id,
            detail=detail,
        )

    def closed(self, question: ConsentQuestion) -> PreparedCall:
        url = _join(self.base_url, A.CLOSED_PATH)
        message_id = new_message_id()
        body = build_closed_question(question, url, message_id=message_id, options=self.options)
        if self.signing is not None:
            body = sign_closed_question(body, self.signing)
        return PreparedCall(url, closed_question_headers(message_id, self.options), body, message_id)

    def finish_closed(
        self, call: PreparedCall, question: ConsentQuestion, status: int, body: bytes
    ) -> ConsentDecision:
        _refuse_redirect(status)
        return _parse_closed(body, question, status=status, message_id=call.message_id, options=self.options)

    def open(self, question: OpenQuestion) -> PreparedCall:
        url = _join(self.base_url, A.OPEN_PATH)
        message_id = new_message_id()
        body = build_open_question(question, url, message_id=message_id)
        return PreparedCall(
            url, open_question_headers(message_id, self.options.request_id_header), body, message_id
        )

    def finish_open(self, call: PreparedCall, status: int, body: bytes) -> list[PatientLocation]:
        _refuse_redirect(status)
        return parse_open_answer(
            body,
            message_id=call.message_id or "",
            status=status,
            max_bytes=self.options.max_response_bytes,
            max_depth=self.options.max_depth,
        )

    def subscribe(self, request: SubscriptionRequest) -> PreparedCall:
        headers, body = MitzSubscriptions.encode(request)
        return PreparedCall(_join(self.base_url, A.SUBSCRIPTION_PATH), headers, body)

    @staticmethod
    def finish_subscribe(status: int, headers: httpx.Headers) -> SubscriptionReceipt:
        _refuse_redirect(status)
        return MitzSubscriptions.parse_created(status, dict(headers.items()))


def _http_options(
    credentials: Credentials | None,
    trust: TrustAnchors | None,
    allow_tls12: bool,
    timeouts: Timeouts | None,
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
) -> dict[str, Any]:
    """Client options for Mitz: mTLS with our certificate, a 10 s read timeout, no retries."""
    ctx = None if transport is not None else client_ssl_context(credentials, trust, allow_tls12=allow_tls12)
    return {
        "ssl_context": ctx,
        "timeouts": timeouts or Timeouts(read=10.0),
        "retry": RetryPolicy.disabled(),
        "transport": transport,
    }


class MitzClient(ClientHolder):
    """Synchronous Mitz client over mTLS (our UZI server certificate); a :class:`ConsentChecker`."""

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        trust: TrustAnchors | None = None,
        options: MitzOptions = DEFAULT_OPTIONS,
        timeouts: Timeouts | None = None,
        allow_tls12: bool = False,
        sign_requests: bool = False,
        auditor: Auditor | None = None,
        transport: httpx.BaseTransport | None = None,
        client: httpx.Client | None = None,
        allow_plaintext: bool = False,
    ) -> None:
        self._core = _Core(
            base_url, options, credentials, sign_requests, auditor, allow_plaintext=allow_plaintext
        )
        http = (
            {} if client is not None else _http_options(credentials, trust, allow_tls12, timeouts, transport)
        )
        super().__init__(client, http)

    def _post(self, call: PreparedCall) -> httpx.Response:
        request = self._client.build_request("POST", call.url, headers=call.headers, content=call.body)
        started = time.perf_counter()
        response = _send(
            self._client, request, max_bytes=self._core.options.max_response_bytes, follow_redirects=False
        )
        _log_exchange(call, response, started)
        return response

    def check(self, question: ConsentQuestion) -> ConsentDecision:
        """Ask the closed question: Permit/Deny per category, or a typed ``ConsentError``."""
        call = self._core.closed(question)
        try:
            response = self._post(call)
            decision = self._core.finish_closed(call, question, response.status_code, response.content)
        except TwiinError as exc:
            self._core.audit(question, call, error=exc)
            raise
        self._core.audit(question, call, decision)
        return decision

    def locate(self, question: OpenQuestion) -> list[PatientLocation]:
        """Ask the open question: where may the patient's data be found?"""
        call = self._core.open(question)
        response = self._post(call)
        return self._core.finish_open(call, response.status_code, response.content)

    def subscribe(self, request: SubscriptionRequest) -> SubscriptionReceipt:
        """Create an OTV consent subscription (201 or 202 accepted)."""
        call = self._core.subscribe(request)
        response = self._post(call)
        return self._core.finish_subscribe(response.status_code, response.headers)


class AsyncMitzClient(AsyncClientHolder):
    """Async twin of :class:`MitzClient`; an :class:`AsyncConsentChecker`."""

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        trust: TrustAnchors | None = None,
        options: MitzOptions = DEFAULT_OPTIONS,
        timeouts: Timeouts | None = None,
        allow_tls12: bool = False,
        sign_requests: bool = False,
        auditor: Auditor | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
        allow_plaintext: bool = False,
    ) -> None:
        self._core = _Core(
            base_url, options, credentials, sign_requests, auditor, allow_plaintext=allow_plaintext
        )
        http = (
            {} if client is not None else _http_options(credentials, trust, allow_tls12, timeouts, transport)
        )
        super().__init__(client, http)

    async def _post(self, call: PreparedCall) -> httpx.Response:
        request = self._client.build_request("POST", call.url, headers=call.headers, content=call.body)
        started = time.perf_counter()
        response = await _asend(
            self._client, request, max_bytes=self._core.options.max_response_bytes, follow_redirects=False
        )
        _log_exchange(call, response, started)
        return response

    async def check(self, question: ConsentQuestion) -> ConsentDecision:
        """Ask the closed question: Permit/Deny per category, or a typed ``ConsentError``."""
        call = self._core.closed(question)
        try:
            response = await self._post(call)
            decision = self._core.finish_closed(call, question, response.status_code, response.content)
        except TwiinError as exc:
            self._core.audit(question, call, error=exc)
            raise
        self._core.audit(question, call, decision)
        return decision

    async def locate(self, question: OpenQuestion) -> list[PatientLocation]:
        """Ask the open question: where may the patient's data be found?"""
        call = self._core.open(question)
        response = await self._post(call)
        return self._core.finish_open(call, response.status_code, response.content)

    async def subscribe(self, request: SubscriptionRequest) -> SubscriptionReceipt:
        """Create an OTV consent subscription (201 or 202 accepted)."""
        call = self._core.subscribe(request)
        response = await self._post(call)
        return self._core.finish_subscribe(response.status_code, response.headers)
