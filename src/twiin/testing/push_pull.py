"""A peer GtK for Push and Pull on loopback mTLS, for tests, examples and the sandbox.

:class:`PushPullNetwork` runs the peer (URA 22222222): a token endpoint (client_credentials with
a client assertion, certificate-bound tokens), an R4 push receiver at ``/fhir`` and an STU3 BgZ
server at ``/bgz`` with synthetic data of two patients, both in-memory stores behind an
access-token check. For our side (URA 11111111) it holds the UZI server credentials, the mTLS
client context, a bilateral address book (its data as ``book``, e.g. for a node's address book
file), token auth for the peer and a consent register that permits :data:`PATIENT`.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack

from twiin import naming
from twiin._http import client_ssl_context, server_ssl_context
from twiin._http.compat import httpx
from twiin.addressing import StaticAddressBook, payload_types
from twiin.auth import AssertionSigner, ClientCredentialsAuth
from twiin.auth.server import AssertionPolicy, TokenEndpoint, TokenIssuer, verify_access_token
from twiin.consent import LocalConsentRegister, ProfessionalId
from twiin.errors import InvalidTokenError
from twiin.exchange.notified_pull import ConsentCheck, consent_check
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Bsn, ProviderType, RoleCode, Ura
from twiin.serving import Answer, IncomingRequest
from twiin.testing.bgz_data import seed_bgz
from twiin.testing.fhir_store import FhirStoreServer, MemoryFhirStore
from twiin.testing.pki import TestPKI
from twiin.testing.router import Handler, Router
from twiin.testing.server import serve

__all__ = ["OTHER_PATIENT", "PATIENT", "PEER", "PUSH_PAYLOAD", "US", "PushPullNetwork"]

US, PEER = Ura("11111111"), Ura("22222222")
PATIENT, OTHER_PATIENT = Bsn("999999151"), Bsn("999998456")
PUSH_PAYLOAD = "urn:example:twiin-push-receiver"
"""The payload type the peer's push receiver is listed under (no Twiin code exists for it)."""


class PushPullNetwork:
    """The peer GtK on loopback until :meth:`close`, plus our side's credentials and settings."""

    def __init__(self, pki: TestPKI | None = None) -> None:
        self.pki = pki or TestPKI(key_type="ec256")
        self._stack = ExitStack()
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise

    def __enter__(self) -> PushPullNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the peer and close the consent register."""
        self._stack.close()

    def _start(self) -> None:
        pki, trust = self.pki, self.pki.trust_anchors
        issue = pki.issue_server
        self.peer_creds = issue(ura=PEER.value, uzi_number="900000002", key_type="ec256").credentials()
        self.our_creds = issue(ura=US.value, uzi_number="900000001", key_type="ec256").credentials()
        self.push_store, self.bgz_store = MemoryFhirStore(), MemoryFhirStore()
        seed_bgz(self.bgz_store, PATIENT, "p1")
        seed_bgz(self.bgz_store, OTHER_PATIENT, "p2", conditions=3)
        self.fhir_requests = 0
        self.refused = 0
        self._lock = threading.Lock()
        routes = Router({
            "/token": self._token,
            "/fhir": self._guarded(FhirStoreServer(self.push_store, FhirVersion.R4, base_path="/fhir")),
            "/bgz": self._guarded(FhirStoreServer(self.bgz_store, FhirVersion.STU3, base_path="/bgz")),
        })  # fmt: skip
        self.server = self._stack.enter_context(serve(routes, server_ssl_context(self.peer_creds, trust)))
        self.token_url = self.server.url("token")
        self.issuer = TokenIssuer(AssertionSigner(self.peer_creds), issuer=self.token_url)
        policy = AssertionPolicy(
            audience=self.token_url, trust=trust, check_revocation=False,
            intermediates=(pki.intermediate.certificate,),
        )  # fmt: skip
        self._tokens = TokenEndpoint(issuer=self.issuer, policy=policy)
        self.tls = client_ssl_context(self.our_creds, trust)
        endpoints = [
            {"address": self.server.url("fhir"), "payload_types": [PUSH_PAYLOAD], "fhir_version": "R4"},
            {"address": self.server.url("bgz"), "payload_types": [payload_types.BGZ_SERVER.code],
             "fhir_version": "STU3"},
        ]  # fmt: skip
        self.book = {"organization": [{"ura": PEER.value, "name": "Peer", "endpoint": endpoints}]}
        self.address_book = StaticAddressBook(self.book)
        self.consent = LocalConsentRegister()
        self._stack.callback(self.consent.close)
        self.consent.record_consent(PATIENT)

    def _token(self, request: IncomingRequest) -> Answer:
        return self._tokens.handle(request)

    def _guarded(self, store: FhirStoreServer) -> Handler:
        def handle(request: IncomingRequest) -> Answer:
            with self._lock:
                self.fhir_requests += 1
            token = request.bearer_token()
            try:
                if token is None:
                    raise InvalidTokenError("no access token")
                verify_access_token(token, peer_certificate=request.peer_certificate, issuer=self.issuer)
            except InvalidTokenError:
                with self._lock:
                    self.refused += 1
                return Answer.outcome(401, "security", "access token refused")
            return store(request)

        return handle

    def auth_for(self, ura: Ura, endpoint: str) -> httpx.Auth:
        """Our token auth for the peer (client_credentials with a client assertion)."""
        return ClientCredentialsAuth(self.token_url, self.our_creds, client_id=US.value)

    def consent_check(self) -> ConsentCheck:
        """A fail-closed consent check on the consent register (requester: us, holder: the peer)."""
        return consent_check(
            self.consent, holder_type=ProviderType("Z3"), requester_type=ProviderType("Z3"),
            professional=ProfessionalId(naming.UZI_OID, "900000001"), role=RoleCode("01.015"),
        )  # fmt: skip
