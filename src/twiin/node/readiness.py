"""Readiness of a node configuration (``twiin doctor``): identity, chain, expiry, TLS, tokens, plateaus.

:func:`diagnose` raises :class:`~twiin.errors.ConfigurationError` when the file cannot be
loaded at all (unreadable, invalid, key not matching the certificate, unreadable trust
anchors, plaintext URLs). Everything else becomes a :class:`Check` with status ``ok``,
``warn`` (works, but look: expiring soon, plaintext allowed for tests) or ``fail``; network
checks use the node's own mTLS context, and a service that cannot be reached fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import attrs

from twiin._http import client_ssl_context, create_client, send
from twiin._http.compat import httpx
from twiin.addressing import StaticAddressBook
from twiin.auth import AssertionSigner, ClientCredentialsAuth, UziServerIdentity, verify_chain
from twiin.auth.tokens import MAX_TOKEN_RESPONSE_BYTES
from twiin.config import RetryPolicy, Timeouts, TwiinConfig
from twiin.credentials import Credentials, TrustAnchors
from twiin.errors import ConfigurationError, TwiinError
from twiin.node.base import endpoint_for
from twiin.node.loading import EXPIRY_WARNING, load_node_config, node_identity, require_parts
from twiin.node.plateau import PlateauReport, assess
from twiin.settings import NodeSettings

__all__ = ["Check", "Readiness", "diagnose"]

Status = Literal["ok", "warn", "fail"]
_TIMEOUTS = Timeouts(connect=5.0, read=10.0, write=10.0, pool=5.0)


@attrs.frozen
class Check:
    """One readiness check."""

    name: str
    status: Status
    detail: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"name": self.name, "status": self.status, "detail": self.detail}


@attrs.frozen
class Readiness:
    """Every check and the plateau per generic function."""

    config: str
    checks: tuple[Check, ...]
    plateaus: tuple[PlateauReport, ...]

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return all(c.status != "fail" for c in self.checks)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "config": self.config,
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
            "plateaus": [p.to_dict() for p in self.plateaus],
        }


def _identity_checks(config: TwiinConfig, credentials: Credentials, now: datetime) -> list[Check]:
    subject = credentials.certificate.subject.rfc4514_string()
    checks = [Check("certificate", "ok", f"{subject}; key matches; x5t#S256 {credentials.thumbprint}")]
    try:
        identity: UziServerIdentity | None = node_identity(credentials)
    except ConfigurationError as exc:
        return [*checks, Check("uzi-identity", "fail", exc.problem)]
    assert identity is not None
    who = f"URA {identity.ura}, UZI number {identity.uzi_number}, pass type {identity.card_type}"
    checks.append(Check("uzi-identity", "ok" if identity.is_server_certificate else "warn", who))
    same = identity.ura == config.participant.ura
    checks.append(Check("ura", "ok" if same else "fail",
                        f"participant.ura {config.participant.ura}, certificate {identity.ura}"))  # fmt: skip
    left = identity.not_after - now
    if identity.not_before > now or left.total_seconds() <= 0:
        status: Status = "fail"
        detail = f"valid {identity.not_before:%Y-%m-%d} to {identity.not_after:%Y-%m-%d}: not valid now"
    else:
        status = "warn" if left < EXPIRY_WARNING else "ok"
        detail = f"expires {identity.not_after:%Y-%m-%d} ({left.days} days left)"
    checks.append(Check("expiry", status, detail))
    return checks


def _chain_check(credentials: Credentials, trust: TrustAnchors, now: datetime) -> Check:
    try:
        built = verify_chain(credentials.chain, trust, now=now, intermediates=credentials.chain[1:],
                             check_revocation=False)  # fmt: skip
    except TwiinError as exc:
        return Check("chain", "fail", exc.message)
    return Check("chain", "ok", f"{len(built)} certificates up to {built[-1].subject.rfc4514_string()} "
                                "(revocation not checked)")  # fmt: skip


def _signing_check(credentials: Credentials, settings: NodeSettings) -> Check:
    try:
        signer = AssertionSigner(credentials, alg=settings.token.algorithm)
    except ConfigurationError as exc:
        return Check("token-signing", "fail", f"token.algorithm: {exc.problem}")
    return Check("token-signing", "ok", f"client assertions signed with {signer.alg}")


def _urls(config: TwiinConfig, settings: NodeSettings) -> dict[str, str]:
    urls = {f"endpoints.{name}": e.base_url for name, e in sorted(config.endpoints.items())}
    for key in ("fhir_base", "token_url"):
        value = getattr(settings.server, key)
        if value:
            urls[f"server.{key}"] = value
    urls.update({f"token.endpoints.{ura}": url for ura, url in sorted(settings.token.endpoints.items())})
    return urls


def _tls_check(client: httpx.Client, name: str, url: str) -> Check:
    if url.startswith("http://"):
        return Check(f"tls {name}", "warn", "plaintext http (allowed for tests only)")
    try:
        response = send(client, httpx.Request("GET", url))
    except TwiinError as exc:
        return Check(f"tls {name}", "fail", exc.message)
    return Check(f"tls {name}", "ok", f"mTLS handshake ok (HTTP {response.status_code})")


def _token_check(client: httpx.Client, name: str, url: str, signer: AssertionSigner, client_id: str) -> Check:
    auth = ClientCredentialsAuth(url, signer, client_id=client_id, bind_certificate=True)
    try:
        response = send(client, auth.build_token_request(), max_bytes=MAX_TOKEN_RESPONSE_BYTES)
        token = auth.accept_token_response(response, response.content)
    except TwiinError as exc:
        return Check(f"token {name}", "fail", exc.message)
    lifetime = int(token.expires_at - token.issued_at)
    return Check(f"token {name}", "ok", f"access token obtained (expires in {lifetime}s)")


def _peers(settings: NodeSettings, config: TwiinConfig) -> tuple[int, Check | None]:
    book = settings.addressing.address_book
    if settings.addressing.kind != "static" or book is None:
        return 0, None
    try:
        uras = StaticAddressBook.from_file(book).uras
    except TwiinError as exc:
        return 0, Check("address-book", "fail", exc.message)
    others = [u for u in uras if u != config.participant.ura.value]
    return len(others), Check("address-book", "ok", f"{len(others)} other organisations")


def diagnose(
    path: str | Path,
    environ: Mapping[str, str] | None = None,
    *,
    now: datetime | None = None,
    network: bool = True,
    transport: httpx.BaseTransport | None = None,
) -> Readiness:
    """Check the configuration at ``path``; ``network=False`` skips TLS and token checks."""
    config, settings = load_node_config(path, environ)
    credentials, trust = require_parts(config)
    at = now or datetime.now(UTC)
    checks = _identity_checks(config, credentials, at)
    chain = _chain_check(credentials, trust, at)
    signing = _signing_check(credentials, settings)
    checks += [chain, signing]
    peers, book = _peers(settings, config)
    if book is not None:
        checks.append(book)
    if network:
        checks += _network_checks(config, settings, (credentials, trust), signing.status == "ok", transport)
    uzi = next((c for c in checks if c.name == "uzi-identity"), None)
    plateaus = assess(settings, chain_ok=chain.status == "ok",
                      uzi_server=uzi is not None and uzi.status == "ok", peers=peers)  # fmt: skip
    return Readiness(str(path), tuple(checks), tuple(plateaus))


def _network_checks(
    config: TwiinConfig,
    settings: NodeSettings,
    parts: tuple[Credentials, TrustAnchors],
    can_sign: bool,
    transport: httpx.BaseTransport | None,
) -> list[Check]:
    """TLS and token checks, each URL at the TLS floor the node would use for it."""
    credentials, trust = parts
    urls = _urls(config, settings)
    token_names = [n for n in urls if n == "server.token_url" or n.startswith("token.")]
    found: dict[str, Check] = {}
    for tls12 in (False, True):
        group = {n: u for n, u in urls.items() if _allows_tls12(config, u) is tls12}
        if not group:
            continue
        context = None if transport is not None else client_ssl_context(credentials, trust, allow_tls12=tls12)
        with create_client(ssl_context=context, timeouts=_TIMEOUTS, retry=RetryPolicy.disabled(),
                           transport=transport) as client:  # fmt: skip
            found.update({f"tls {n}": _tls_check(client, n, u) for n, u in group.items()})
            if can_sign:
                signer = AssertionSigner(credentials, alg=settings.token.algorithm)
                client_id = settings.token.client_id or config.participant.ura.value
                found.update({f"token {n}": _token_check(client, n, group[n], signer, client_id)
                              for n in token_names if n in group})  # fmt: skip
    names = [f"tls {n}" for n in urls] + [f"token {n}" for n in token_names]
    return [found[name] for name in names if name in found]


def _allows_tls12(config: TwiinConfig, url: str) -> bool:
    endpoint = endpoint_for(config, url)
    return endpoint is not None and endpoint.allow_tls12
