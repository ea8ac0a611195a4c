"""Sender half, server side: guard every read and search on the sender's FHIR base during a pull.

For each incoming request :class:`PullServer` checks, in order: the access token (bound to the
TLS peer), the authorization base behind it (live, not revoked or expired), that the TLS peer's
URA is the base's receiver, that the token's patient is the base's patient, that the request is
exactly one of the reads or searches the base allows (paging links it handed out included), and
the consent decision. Only then does the vendor's own store answer. Every refusal is a 401 or
403 with an OperationOutcome and never carries data; every decision is audited.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from twiin.audit import Auditor, Outcome
from twiin.auth.server import AuthorizationBase, AuthorizationBaseStore
from twiin.errors import AuthError, AuthorizationBaseError, InvalidTokenError
from twiin.exchange.notified_pull.matcher import NormalisedRequest, RequestMatcher
from twiin.exchange.notified_pull.ports import (
    ConsentCheck,
    ConsentRequest,
    TokenVerifier,
    certificate_ura,
)
from twiin.identifiers import Bsn, Ura
from twiin.redaction import get_logger
from twiin.serving import Answer, IncomingRequest

__all__ = ["OUTCOME_SYSTEM", "REVOKED_CODE", "PatientStore", "PullServer", "refusal"]

log = get_logger(__name__)

OUTCOME_SYSTEM = "urn:twiin:notified-pull:outcome"
REVOKED_CODE = "authorization-base-revoked"

PatientStore = Callable[[IncomingRequest, Bsn], Answer]
"""The vendor's FHIR store: answer ``request`` restricted to ``patient``'s data."""


def refusal(status: int, code: str, diagnostics: str, *, detail_code: str | None = None) -> Answer:
    """A refusal answer: an OperationOutcome, never data."""
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if detail_code:
        issue["details"] = {"coding": [{"system": OUTCOME_SYSTEM, "code": detail_code}]}
    headers = {"www-authenticate": 'Bearer error="invalid_token"'} if status == 401 else {}
    return Answer.fhir(status, {"resourceType": "OperationOutcome", "issue": [issue]}, **headers)


class PullServer:
    """The guard in front of the vendor's FHIR store for Notified Pull reads and searches."""

    def __init__(
        self,
        our_ura: Ura,
        *,
        tokens: TokenVerifier,
        bases: AuthorizationBaseStore,
        consent: ConsentCheck,
        store: PatientStore,
        base_path: str = "/fhir",
        auditor: Auditor | None = None,
        peer_ura: Callable[[Any], Ura] = certificate_ura,
    ) -> None:
        self.our_ura = our_ura
        self.tokens = tokens
        self.bases = bases
        self.consent = consent
        self.store = store
        self.base_path = base_path
        self.auditor = auditor
        self._peer_ura = peer_ura
        self._matchers: dict[str, RequestMatcher] = {}
        self._lock = threading.Lock()

    def __call__(self, request: IncomingRequest) -> Answer:
        return self.serve_pull(request)

    def _matcher(self, record: AuthorizationBase) -> RequestMatcher:
        with self._lock:
            matcher = self._matchers.get(record.id)
            if matcher is None:
                matcher = RequestMatcher(queries=record.queries, base_path=self.base_path)
                self._matchers[record.id] = matcher
            return matcher

    def serve_pull(self, request: IncomingRequest) -> Answer:
        """Check ``request`` and answer it from the store, or refuse it (401/403 OperationOutcome)."""
        target = request.path
        token = request.bearer_token()
        if token is None:
            self._audit("denied", target, None, None, "no access token")
            return refusal(401, "login", "access token required")
        try:
            grant = self.tokens.verify(token, request.peer_certificate)
        except AuthorizationBaseError:
            self._audit("denied", target, None, None, "authorization base revoked or expired")
            return refusal(
                403, "forbidden", "authorization base is no longer valid", detail_code=REVOKED_CODE
            )
        except (InvalidTokenError, AuthError):
            self._audit("denied", target, None, None, "invalid access token")
            return refusal(401, "login", "access token is invalid or expired")
        try:
            record = self.bases.resolve_id(grant.authorization_base_id)
        except AuthorizationBaseError:
            self._audit("denied", target, None, grant.client_ura, "authorization base revoked or expired")
            return refusal(
                403, "forbidden", "authorization base is no longer valid", detail_code=REVOKED_CODE
            )
        try:
            peer = self._peer_ura(request.peer_certificate)
        except (InvalidTokenError, ValueError):
            peer = None
        if peer != record.receiver or grant.client_ura != record.receiver:
            self._audit("denied", target, record.patient, peer, "client is not the notified receiver")
            return refusal(403, "forbidden", "client is not the receiver of this authorization base")
        if grant.patient is not None and grant.patient != record.patient:
            self._audit("denied", target, record.patient, peer, "token for another patient")
            return refusal(403, "forbidden", "access token is for another patient")
        matcher = self._matcher(record)
        match = matcher.match(request.method, request.url)
        if not match.allowed or match.request is None or match.matched is None:
            self._audit("denied", target, record.patient, peer, match.reason)
            return refusal(403, "forbidden", "request is outside the authorization base")
        question = ConsentRequest(record.patient, record.receiver, self.our_ura, match.request.resource_type)
        try:
            permitted = self.consent(question) is True
        except Exception:
            log.warning("consent check failed; denying")
            permitted = False
        if not permitted:
            self._audit("denied", target, record.patient, peer, "no consent")
            return refusal(403, "forbidden", "consent does not permit this request")
        answer = self.store(request, record.patient)
        if answer.status == 200:
            self._remember_pages(matcher, answer, match.matched)
        self._audit(
            "success" if answer.status < 400 else "failure", str(match.request), record.patient, peer, None
        )
        return answer

    def _remember_pages(self, matcher: RequestMatcher, answer: Answer, origin: NormalisedRequest) -> None:
        try:
            body = json.loads(answer.body)
        except ValueError:
            return
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            return
        for link in body.get("link") or []:
            if isinstance(link, dict) and link.get("relation") in (
                "next",
                "previous",
                "prev",
                "first",
                "last",
            ):
                url = link.get("url")
                if isinstance(url, str):
                    matcher.remember_page(url, origin)

    def _audit(
        self, outcome: Outcome, target: str, patient: Bsn | None, peer: Ura | None, detail: str | None
    ) -> None:
        if self.auditor is not None:
            self.auditor.record(
                "notified-pull.serve", outcome, patient=patient, peer=peer, query=target, detail=detail
            )
