"""What :class:`~twiin.node.Node` and :class:`~twiin.node.AsyncNode` share: identity, TLS, signing,
audit, token flows and the choices read from the settings. No network I/O happens here.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urljoin

from twiin import naming
from twiin._http import client_ssl_context, server_ssl_context
from twiin._http.compat import httpx
from twiin.addressing import EndpointPolicy, PayloadType
from twiin.audit import Auditor, AuditSink, JsonLinesSink, LoggingSink, MemorySink, Pseudonymizer
from twiin.auth import (
    AssertionSigner,
    ClientCredentialsAuth,
    DPoPSigner,
    JwtBearerAuth,
    TokenAuth,
    UziServerIdentity,
)
from twiin.config import EndpointConfig, TwiinConfig
from twiin.consent import ConsentChecker, ProfessionalId
from twiin.credentials import Credentials, TrustAnchors
from twiin.errors import ConfigurationError
from twiin.exchange.notified_pull import ConsentCheck, PartyId, consent_check
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura
from twiin.node.loading import require_parts, verify_node_config
from twiin.settings import NodeSettings

__all__ = ["NodeBase", "endpoint_for", "is_url"]


def is_url(target: object) -> bool:
    """True when ``target`` is an absolute http(s) URL rather than a URA."""
    return isinstance(target, str) and target.startswith(("https://", "http://"))


def endpoint_for(config: TwiinConfig, url: str) -> EndpointConfig | None:
    """The ``[endpoints.*]`` table whose base URL ``url`` is (or lies under), if any."""
    for endpoint in config.endpoints.values():
        base = endpoint.base_url.rstrip("/")
        if url.rstrip("/") == base or url.startswith(base + "/"):
            return endpoint
    return None


def _sink(settings: NodeSettings) -> AuditSink:
    audit = settings.audit
    if audit.sink == "jsonl":
        assert audit.path is not None  # AuditSettings requires it for jsonl
        return JsonLinesSink(audit.path)
    if audit.sink == "memory":
        return MemorySink()
    return LoggingSink()


class NodeBase:
    """A node's identity and the I/O-free parts built from ``config`` and ``settings``.

    Construction verifies the configuration (see :func:`~twiin.node.loading.verify_node_config`).
    """

    def __init__(self, config: TwiinConfig, settings: NodeSettings) -> None:
        self.config = config
        self.settings = settings
        self.credentials: Credentials
        self.trust: TrustAnchors
        self.credentials, self.trust = require_parts(config)
        self.identity: UziServerIdentity = verify_node_config(config)
        self.signer = self._signer()
        self.auditor = Auditor(_sink(settings), Pseudonymizer(settings.audit.pseudonym_key),
                               config.participant.name or "twiin-node", config.participant.ura)  # fmt: skip
        self._contexts: dict[bool, ssl.SSLContext] = {}
        self.dpop = DPoPSigner.generate() if settings.token.dpop else None

    def _signer(self) -> AssertionSigner:
        try:
            return AssertionSigner(self.credentials, alg=self.settings.token.algorithm)
        except ConfigurationError as exc:
            raise ConfigurationError("token.algorithm", exc.problem) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ura={self.ura.value!r}, name={self.config.participant.name!r})"

    # -- identity ---------------------------------------------------------------------------------
    @property
    def ura(self) -> Ura:
        """Our URA (``participant.ura``, equal to the certificate's)."""
        return self.config.participant.ura

    @property
    def client_id(self) -> str:
        """Our OAuth client id: ``token.client_id`` or the URA."""
        return self.settings.token.client_id or self.ura.value

    @property
    def system(self) -> PartyId:
        """Our sending system's identifier (``server.system`` or ``urn:oid:<URA OID>.<ura>``)."""
        value = self.settings.server.system or f"urn:oid:{naming.URA_OID}.{self.ura.value}"
        return PartyId("urn:ietf:rfc:3986", value)

    # -- endpoints and TLS --------------------------------------------------------------------
    def endpoint(self, name: str) -> EndpointConfig:
        """The ``[endpoints.<name>]`` table."""
        try:
            return self.config.endpoints[name]
        except KeyError:
            raise ConfigurationError(f"endpoints.{name}", "missing table") from None

    def endpoint_for_url(self, url: str) -> EndpointConfig | None:
        """The configured endpoint whose base URL ``url`` is (or lies under), if any."""
        return endpoint_for(self.config, url)

    def client_options(self, url: str) -> dict[str, Any]:
        """TLS context, timeouts and retries for ``url`` (from its ``[endpoints.*]`` table if any)."""
        endpoint = self.endpoint_for_url(url)
        if endpoint is None:
            return {"ssl_context": self.ssl_context()}
        return self.endpoint_options(endpoint)

    def endpoint_options(self, endpoint: EndpointConfig) -> dict[str, Any]:
        """TLS context (at the endpoint's TLS floor), timeouts and retries of an ``[endpoints.*]`` table."""
        return {
            "ssl_context": self.ssl_context(allow_tls12=endpoint.allow_tls12),
            "timeouts": endpoint.timeouts,
            "retry": endpoint.retry,
        }

    def url_version(self, url: str, version: FhirVersion | None) -> FhirVersion:
        """``version``, else the configured endpoint's FHIR version, else R4."""
        endpoint = self.endpoint_for_url(url)
        return version or (endpoint.fhir_version if endpoint else None) or FhirVersion.R4

    def ssl_context(self, *, allow_tls12: bool = False) -> ssl.SSLContext:
        """The mTLS client context with our certificate and trust anchors (built once per TLS floor)."""
        found = self._contexts.get(allow_tls12)
        if found is None:
            found = client_ssl_context(self.credentials, self.trust, allow_tls12=allow_tls12)
            self._contexts[allow_tls12] = found
        return found

    def server_ssl_context(self, *, allow_tls12: bool = False) -> ssl.SSLContext:
        """An mTLS server context for hosting our endpoints (a rest-hook, a Task endpoint):
        our certificate, and client certificates required and checked against our trust anchors."""
        return server_ssl_context(self.credentials, self.trust, allow_tls12=allow_tls12)

    @property
    def endpoint_policy(self) -> EndpointPolicy:
        """Which endpoint addresses read from the directory may be connected to."""
        return EndpointPolicy(allow_http=self.settings.addressing.allow_http)

    # -- authentication -----------------------------------------------------------------------
    def token_auth(self, token_url: str, *, authorization_base: str | None = None) -> TokenAuth:
        """``client_credentials`` (no authorization base) or the JWT-bearer grant carrying one."""
        token = self.settings.token
        common: dict[str, Any] = {
            "client_id": self.client_id,
            "scope": token.scope,
            "assertion_lifetime": token.assertion_lifetime,
            "bind_certificate": token.certificate_bound,
            "dpop": self.dpop,
        }
        if authorization_base is None:
            return ClientCredentialsAuth(token_url, self.signer, **common)
        return JwtBearerAuth(token_url, self.signer, authorization_base=authorization_base, **common)

    def token_url_for(self, ura: Ura | None, fhir_base: str) -> str:
        """A peer's token endpoint: ``token.endpoints[<ura>]`` or ``token.path`` against its FHIR base."""
        token = self.settings.token
        if ura is not None and ura.value in token.endpoints:
            return token.endpoints[ura.value]
        return urljoin(fhir_base.rstrip("/") + "/", token.path)

    def auth_for_peer(self, ura: Ura | None, fhir_base: str) -> httpx.Auth:
        """``client_credentials`` token auth for a peer's FHIR base."""
        return self.token_auth(self.token_url_for(ura, fhir_base))

    # -- consent ------------------------------------------------------------------------------
    def professional(self) -> ProfessionalId:
        """The professional named in closed consent questions (``consent.professional_uzi``)."""
        uzi = self.settings.consent.professional_uzi
        if uzi is None:
            raise ConfigurationError("consent.professional_uzi", "required to ask consent questions")
        return ProfessionalId.uzi(uzi)

    def consent_check_for(self, checker: ConsentChecker, *, requesting: bool = False) -> ConsentCheck:
        """A fail-closed consent check over ``checker`` (sync consent checkers).

        As the data holder (pull guard, push) our type is the holder's and
        ``consent.requester_provider_type`` the peer's; ``requesting`` (a direct pull: the peer
        holds the data) swaps the two.
        """
        consent = self.settings.consent
        ours, peer = consent.holder_provider_type, consent.requester_provider_type
        if ours is None:
            raise ConfigurationError("participant.provider_type", "required to ask consent questions")
        if peer is None:
            raise ConfigurationError("consent.requester_provider_type", "required to ask consent questions")
        holder, requester = (peer, ours) if requesting else (ours, peer)
        if consent.professional_role is None:
            raise ConfigurationError("consent.professional_role", "required to ask consent questions")
        return consent_check(
            checker,
            holder_type=holder,
            requester_type=requester,
            professional=self.professional(),
            role=consent.professional_role,
        )

    @staticmethod
    def payload(payload_type: PayloadType | str | None) -> PayloadType | str:
        """The payload type to resolve a URA with; required."""
        if payload_type is None:
            raise ConfigurationError("payload_type", "required when resolving a URA through the directory")
        return payload_type
