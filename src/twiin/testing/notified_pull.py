"""A two-party Notified Pull network on loopback mTLS, for tests, benchmarks and the sandbox.

:class:`NotifiedPullNetwork` runs a sending GtK (token endpoint, pull guard, in-memory STU3
store with synthetic BgZ data for two patients, Notification sender) and a receiving GtK (token
endpoint, Task endpoint, puller), both with UZI-style certificates from a :class:`TestPKI`,
addressing through a bilateral :class:`~twiin.addressing.StaticAddressBook`, consent from a
:class:`~twiin.consent.LocalConsentRegister`, and an audit sink per side.

Addressing, consent and the audit trail are injectable (``resolver``, ``consent``,
``audit_files``, ``pseudonym_key``): :mod:`twiin.sandbox` runs the same two GtKs against a live
mCSD directory and a (fake) Mitz.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from twiin import naming
from twiin._http import client_ssl_context, create_client, server_ssl_context
from twiin._http.compat import httpx
from twiin.addressing import AddressResolver, StaticAddressBook
from twiin.audit import AuditEvent, Auditor, JsonLinesSink, MemorySink, Pseudonymizer
from twiin.auth import AssertionSigner, ClientCredentialsAuth, JwtBearerAuth
from twiin.auth.server import AssertionPolicy, MemoryAuthorizationBaseStore, TokenEndpoint, TokenIssuer
from twiin.consent import ConsentChecker, LocalConsentRegister, ProfessionalId
from twiin.exchange.notified_pull import (
    BGZ_SERVER_PAYLOAD,
    NOTIFICATION_PAYLOAD,
    IssuedTokenVerifier,
    Notification,
    NotificationAccess,
    NotificationReceiver,
    NotificationSender,
    NotificationTask,
    PartyId,
    PullCore,
    Puller,
    PullServer,
    SenderCore,
    consent_check,
)
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Bsn, ProviderType, RoleCode, Ura
from twiin.serving import Answer, IncomingRequest
from twiin.testing.bgz_data import patient_store, seed_bgz
from twiin.testing.fhir_store import FhirStoreServer, MemoryFhirStore
from twiin.testing.pki import TestPKI
from twiin.testing.router import Router
from twiin.testing.server import serve

__all__ = ["OTHER_PATIENT", "PATIENT", "RECEIVER", "SENDER", "NotifiedPullNetwork", "TeeSink"]

SENDER, RECEIVER = Ura("11111111"), Ura("22222222")
PATIENT, OTHER_PATIENT = Bsn("999999151"), Bsn("999998456")
SENDING_SYSTEM = PartyId("urn:ietf:rfc:3986", "urn:oid:2.16.840.1.113883.2.4.3.164.2.1")
DEFAULT_PSEUDONYM_KEY = b"sandbox-pseudonym-key-0123456789"
DEFAULT_PROVIDER_TYPE = ProviderType("Z3")

ResolverFactory = Callable[["NotifiedPullNetwork"], AddressResolver]
"""Builds the resolver both GtKs use, once both servers run (``network.receiver_server`` ...)."""
ConsentFactory = Callable[["NotifiedPullNetwork"], ConsentChecker]
"""Builds the consent checker of the sender's pull guard (``network.sender_creds`` is set)."""


class TeeSink(MemorySink):
    """A :class:`MemorySink` that also appends every event to a JSON-lines file."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.file = JsonLinesSink(path)

    def emit(self, event: AuditEvent) -> None:
        super().emit(event)
        self.file.emit(event)


def bilateral_address_book(network: NotifiedPullNetwork) -> StaticAddressBook:
    """The default resolver: a static address book with both GtKs' endpoints."""
    receiver_base, sender_base = network.receiver_server.url("fhir"), network.sender_server.url("fhir")
    return StaticAddressBook({"organization": [
        {"ura": RECEIVER.value, "name": "Receiver", "endpoint": [
            {"address": receiver_base, "payload_types": [NOTIFICATION_PAYLOAD.code]}]},
        {"ura": SENDER.value, "name": "Sender", "endpoint": [
            {"address": sender_base, "payload_types": [BGZ_SERVER_PAYLOAD.code], "fhir_version": "STU3"}]},
    ]})  # fmt: skip


class NotifiedPullNetwork:
    """Both GtKs on loopback until :meth:`close`; ``latency`` seconds are added to each pull request.

    ``resolver`` and ``consent`` are factories called while starting (defaults: a bilateral
    address book; a local register where :data:`PATIENT` consented). ``audit_files`` (sender,
    receiver) additionally writes each side's audit trail as JSON lines; ``holder_type`` is the
    sender's provider type in the consent question.
    """

    def __init__(
        self,
        pki: TestPKI | None = None,
        *,
        concurrency: int = 8,
        latency: float = 0.0,
        resolver: ResolverFactory | None = None,
        consent: ConsentFactory | None = None,
        audit_files: tuple[Path, Path] | None = None,
        pseudonym_key: bytes = DEFAULT_PSEUDONYM_KEY,
        holder_type: ProviderType = DEFAULT_PROVIDER_TYPE,
    ) -> None:
        self.pki = pki or TestPKI(key_type="ec256")
        self._resolver_factory = resolver or bilateral_address_book
        self._consent_factory = consent or _local_consent
        self._audit_files = audit_files
        self._pseudonym_key = pseudonym_key
        self._holder_type = holder_type
        self._stack = ExitStack()
        try:
            self._start(concurrency, latency)
        except BaseException:
            self._stack.close()
            raise

    def __enter__(self) -> NotifiedPullNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop both servers and close the clients."""
        self._stack.close()

    def _start(self, concurrency: int, latency: float) -> None:
        pki, trust = self.pki, self.pki.trust_anchors
        self.sender_cert = pki.issue_server(ura=SENDER.value, uzi_number="900000001", key_type="ec256")
        self.receiver_cert = pki.issue_server(ura=RECEIVER.value, uzi_number="900000002", key_type="ec256")
        self.sender_creds = self.sender_cert.credentials()
        self.receiver_creds = self.receiver_cert.credentials()
        self.sender_audit: MemorySink
        self.receiver_audit: MemorySink
        if self._audit_files is None:
            self.sender_audit, self.receiver_audit = MemorySink(), MemorySink()
        else:
            self.sender_audit, self.receiver_audit = (TeeSink(p) for p in self._audit_files)
        key = Pseudonymizer(self._pseudonym_key)
        sender_auditor = Auditor(self.sender_audit, key, "sender-gtk", SENDER)
        receiver_auditor = Auditor(self.receiver_audit, key, "receiver-gtk", RECEIVER)

        self.store = MemoryFhirStore()
        seed_bgz(self.store, PATIENT, "p1")
        seed_bgz(self.store, OTHER_PATIENT, "p2", conditions=3)
        self.store.create(
            {"resourceType": "Task", "id": "wf-1", "status": "in-progress", "intent": "order"}, id="wf-1"
        )
        self.consent: ConsentChecker = self._consent_factory(self)
        self.bases = MemoryAuthorizationBaseStore()
        self.served = 0
        self.on_serve: Callable[[int], None] | None = None
        self._count_lock = threading.Lock()
        scoped = patient_store(FhirStoreServer(self.store, FhirVersion.STU3, base_path="/fhir"))

        def store(request: IncomingRequest, patient: Bsn) -> Answer:
            with self._count_lock:
                self.served += 1
                count = self.served
            if self.on_serve is not None:
                self.on_serve(count)
            return scoped(request, patient)

        blocks: dict[str, Any] = {}

        def guarded(request: IncomingRequest) -> Answer:
            if latency:
                time.sleep(latency)
            return blocks["guard"].serve_pull(request)  # type: ignore[no-any-return]

        def sender_tokens(request: IncomingRequest) -> Answer:
            return blocks["sender_tokens"].handle(request)  # type: ignore[no-any-return]

        routes = Router({"/fhir": guarded, "/token": sender_tokens})
        self.sender_server = self._stack.enter_context(
            serve(routes, server_ssl_context(self.sender_creds, trust))
        )
        self.token_url = self.sender_server.url("token")
        issuer = TokenIssuer(AssertionSigner(self.sender_creds), issuer=self.token_url)
        blocks["sender_tokens"] = TokenEndpoint(
            issuer=issuer, policy=self._policy(self.token_url), store=self.bases
        )
        check = consent_check(
            self.consent, holder_type=self._holder_type, requester_type=DEFAULT_PROVIDER_TYPE,
            professional=ProfessionalId(naming.UZI_OID, "900000002"), role=RoleCode("01.015"),
        )  # fmt: skip
        blocks["guard"] = self.guard = PullServer(
            SENDER, tokens=IssuedTokenVerifier(issuer, self.bases), bases=self.bases, consent=check,
            store=store, base_path="/fhir", auditor=sender_auditor,
        )  # fmt: skip

        self.accepted: list[Notification] = []

        def task_endpoint(request: IncomingRequest) -> Answer:
            notification, answer = self.receiver.accept(request)
            if notification is not None:
                self.accepted.append(notification)
            return answer

        def receiver_tokens(request: IncomingRequest) -> Answer:
            return blocks["receiver_tokens"].handle(request)  # type: ignore[no-any-return]

        routes = Router({"/fhir": task_endpoint, "/token": receiver_tokens})
        self.receiver_server = self._stack.enter_context(
            serve(routes, server_ssl_context(self.receiver_creds, trust))
        )
        receiver_token_url = self.receiver_server.url("token")
        receiver_issuer = TokenIssuer(AssertionSigner(self.receiver_creds), issuer=receiver_token_url)
        blocks["receiver_tokens"] = TokenEndpoint(
            issuer=receiver_issuer, policy=self._policy(receiver_token_url)
        )
        self.receiver = NotificationReceiver(
            RECEIVER, auditor=receiver_auditor, access=NotificationAccess(receiver_issuer)
        )
        self.notify_auths: list[ClientCredentialsAuth] = []
        self.pull_auths: list[JwtBearerAuth] = []

        def notify_auth(receiver: Ura, endpoint: str) -> httpx.Auth:
            auth = ClientCredentialsAuth(receiver_token_url, self.sender_creds, client_id=SENDER.value)
            self.notify_auths.append(auth)
            return auth

        def pull_auth(task: NotificationTask, base_url: str) -> httpx.Auth:
            auth = JwtBearerAuth(self.token_url, self.receiver_creds, client_id=RECEIVER.value,
                                 authorization_base=task.authorization_base)  # fmt: skip
            self.pull_auths.append(auth)
            return auth

        self.resolver = self._resolver_factory(self)
        core = SenderCore(
            SENDER, SENDING_SYSTEM, self.resolver, self.bases, auditor=sender_auditor, auth_for=notify_auth
        )
        self.sender_tls_client = client_ssl_context(self.sender_creds, trust)
        self.sender = self._stack.enter_context(
            NotificationSender(core, client=create_client(ssl_context=self.sender_tls_client))
        )
        self.pull_core = PullCore(self.resolver, pull_auth, auditor=receiver_auditor, concurrency=concurrency)
        self.receiver_tls_client = client_ssl_context(self.receiver_creds, trust)
        self.puller = self._stack.enter_context(
            Puller(self.pull_core, client=create_client(ssl_context=self.receiver_tls_client))
        )

    def _policy(self, audience: str) -> AssertionPolicy:
        return assertion_policy(self.pki, audience)


def assertion_policy(pki: TestPKI, audience: str) -> AssertionPolicy:
    """The token endpoints' client-assertion policy: UZI certificates of ``pki``, no revocation check."""
    return AssertionPolicy(
        audience=audience, trust=pki.trust_anchors, check_revocation=False,
        intermediates=(pki.intermediate.certificate,),
    )  # fmt: skip


def _local_consent(network: NotifiedPullNetwork) -> LocalConsentRegister:
    """The default consent checker, closed with ``network``."""
    register = LocalConsentRegister()
    network._stack.callback(register.close)
    register.record_consent(PATIENT)
    return register
