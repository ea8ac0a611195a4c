"""Node-level settings read from the TOML sections above the foundation config.

``[addressing]``, ``[consent]``, ``[token]``, ``[audit]`` and ``[server]`` choose which
implementation answers each generic function. This module only parses and checks them;
:mod:`twiin.node` wires the implementations.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import attrs

from twiin.config import TwiinConfig
from twiin.errors import ConfigurationError, InvalidIdentifier
from twiin.identifiers import ProviderType, RoleCode, Ura, UziNumber

__all__ = [
    "AddressingSettings",
    "AuditSettings",
    "ConsentSettings",
    "NodeSettings",
    "ServerSettings",
    "TokenSettings",
]

AddressingKind = Literal["static", "live", "cache"]
ConsentKind = Literal["local", "mitz"]
T = TypeVar("T", UziNumber, RoleCode, ProviderType)


def _kind(table: Mapping[str, Any], section: str, allowed: tuple[str, ...], default: str) -> str:
    value = str(table.get("kind", default))
    if value not in allowed:
        raise ConfigurationError(f"{section}.kind", f"must be one of {', '.join(allowed)}")
    return value


def _path(root: Path, table: Mapping[str, Any], section: str, key: str, *, required: bool) -> Path | None:
    value = table.get(key)
    if value is None:
        if required:
            raise ConfigurationError(f"{section}.{key}", "missing")
        return None
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{section}.{key}", "must be a path")
    return root / value


def _endpoint_name(
    config: TwiinConfig, table: Mapping[str, Any], section: str, *, required: bool
) -> str | None:
    name = table.get("endpoint")
    if name is None:
        if required:
            raise ConfigurationError(f"{section}.endpoint", "missing: name an [endpoints.<name>] table")
        return None
    if str(name) not in config.endpoints:
        raise ConfigurationError(f"{section}.endpoint", f"no [endpoints.{name}] table")
    return str(name)


@attrs.frozen
class AddressingSettings:
    """``[addressing]``: ``static`` address book file, ``live`` directory queries, or a synced ``cache``."""

    kind: AddressingKind = "static"
    address_book: Path | None = None
    endpoint: str | None = None
    cache_path: Path | None = None
    allow_http: bool = False

    @classmethod
    def parse(cls, config: TwiinConfig) -> AddressingSettings:
        table = config.sections.get("addressing") or {}
        kind = _kind(table, "addressing", ("static", "live", "cache"), "static")
        if kind == "static":
            book = _path(config.base_dir, table, "addressing", "address_book", required=True)
            return cls("static", address_book=book)
        endpoint = _endpoint_name(config, table, "addressing", required=True)
        cache = (
            _path(config.base_dir, table, "addressing", "cache_path", required=False)
            if kind == "cache"
            else None
        )
        return cls(kind, endpoint=endpoint, cache_path=cache, allow_http=bool(table.get("allow_http", False)))  # type: ignore[arg-type]


def _ident(table: Mapping[str, Any], section: str, key: str, kind: type[T]) -> T | None:
    value = table.get(key)
    if value is None:
        return None
    try:
        return kind(str(value))
    except InvalidIdentifier as exc:
        raise ConfigurationError(f"{section}.{key}", exc.rule) from None


@attrs.frozen
class ConsentSettings:
    """``[consent]``: a ``local`` register (SQLite) or the national ``mitz`` closed question.

    The closed question names, besides the patient and both organisations, the responsible
    professional and role and both organisations' provider types. As a data holder we ask it
    on behalf of the requesting party, so ``professional_uzi``, ``professional_role`` and
    ``requester_provider_type`` are the defaults for a peer; ``holder_provider_type`` defaults
    to ``participant.provider_type``. With ``kind = "mitz"`` they are required.
    """

    kind: ConsentKind = "local"
    register_path: Path | None = None
    endpoint: str | None = None
    subscriptions: bool = False
    sign_requests: bool = False
    professional_uzi: UziNumber | None = None
    professional_role: RoleCode | None = None
    requester_provider_type: ProviderType | None = None
    holder_provider_type: ProviderType | None = None

    @classmethod
    def parse(cls, config: TwiinConfig) -> ConsentSettings:
        table = config.sections.get("consent") or {}
        kind = _kind(table, "consent", ("local", "mitz"), "local")
        question = {
            "professional_uzi": _ident(table, "consent", "professional_uzi", UziNumber),
            "professional_role": _ident(table, "consent", "professional_role", RoleCode),
            "requester_provider_type": _ident(table, "consent", "requester_provider_type", ProviderType),
            "holder_provider_type": _ident(table, "consent", "holder_provider_type", ProviderType)
            or config.participant.provider_type,
        }
        if kind == "local":
            register = _path(config.base_dir, table, "consent", "register", required=False)
            return cls("local", register_path=register, **question)  # type: ignore[arg-type]
        endpoint = _endpoint_name(config, table, "consent", required=True)
        for key, value in question.items():
            if value is None:
                setting = "participant.provider_type" if key == "holder_provider_type" else f"consent.{key}"
                raise ConfigurationError(
                    setting, "required for the Mitz closed question (consent.kind = mitz)"
                )
        return cls(
            "mitz",
            endpoint=endpoint,
            subscriptions=bool(table.get("subscriptions", False)),
            sign_requests=bool(table.get("sign_requests", False)),
            **question,  # type: ignore[arg-type]
        )


@attrs.frozen
class TokenSettings:
    """``[token]``: how we authenticate to other GtKs' token endpoints.

    ``algorithm`` empty means the default for the key (RS256 for RSA, ES256/384/512 by curve).
    A peer's token endpoint is ``endpoints[<ura>]`` when listed, else ``path`` resolved against
    the peer's FHIR base (``"../token"``: ``https://host/fhir`` -> ``https://host/token``).
    ``dpop`` asks for DPoP-bound tokens, proved with a key generated when the node loads.
    """

    client_id: str | None = None
    algorithm: str = ""
    assertion_lifetime: int = 60
    certificate_bound: bool = True
    scope: str | None = None
    endpoints: Mapping[str, str] = attrs.field(factory=dict)
    path: str = "../token"
    dpop: bool = False

    @classmethod
    def parse(cls, config: TwiinConfig) -> TokenSettings:
        table = config.sections.get("token") or {}
        lifetime = int(table.get("assertion_lifetime", 60))
        if not 1 <= lifetime <= 300:
            raise ConfigurationError("token.assertion_lifetime", "must be 1-300 seconds")
        alg = str(table.get("algorithm", ""))
        if alg not in ("", "RS256", "PS256", "ES256", "ES384", "ES512"):
            raise ConfigurationError("token.algorithm", "must be RS256, PS256, ES256, ES384 or ES512")
        endpoints = table.get("endpoints") or {}
        if not isinstance(endpoints, Mapping):
            raise ConfigurationError("token.endpoints", "must be a table of URA = token URL")
        peers: dict[str, str] = {}
        for ura, url in endpoints.items():
            try:
                key = Ura(str(ura)).value
            except InvalidIdentifier as exc:
                raise ConfigurationError(f"token.endpoints.{ura}", exc.rule) from None
            peers[key] = _https(str(url), f"token.endpoints.{ura}", bool(table.get("allow_plaintext", False)))
        return cls(
            client_id=table.get("client_id"),
            algorithm=alg,
            assertion_lifetime=lifetime,
            certificate_bound=bool(table.get("certificate_bound", True)),
            scope=table.get("scope"),
            endpoints=peers,
            path=str(table.get("path", "../token")),
            dpop=bool(table.get("dpop", False)),
        )


def _https(url: str, setting: str, allow_plaintext: bool) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(setting, "must be an absolute https URL")
    if parts.scheme == "http" and not allow_plaintext:
        raise ConfigurationError(setting, "plaintext http is refused (set allow_plaintext for tests)")
    return url


@attrs.frozen
class ServerSettings:
    """``[server]``: where this node itself is reachable (its FHIR base and token endpoint).

    ``system`` identifies our sending system in Notification Tasks (``Task.requester.agent``);
    it defaults to ``urn:oid:<URA OID>.<ura>``.
    """

    fhir_base: str | None = None
    token_url: str | None = None
    system: str | None = None

    @classmethod
    def parse(cls, config: TwiinConfig) -> ServerSettings:
        table = config.sections.get("server") or {}
        plain = bool(table.get("allow_plaintext", False))
        urls = {
            key: _https(str(table[key]), f"server.{key}", plain) if table.get(key) else None
            for key in ("fhir_base", "token_url")
        }
        system = table.get("system")
        return cls(urls["fhir_base"], urls["token_url"], str(system) if system else None)


@attrs.frozen(repr=False)
class AuditSettings:
    """``[audit]``: where audit events go and the pseudonym key for patients."""

    sink: Literal["logging", "jsonl", "memory"] = "logging"
    path: Path | None = None
    pseudonym_key: bytes = attrs.field(default=b"", repr=False)

    def __repr__(self) -> str:
        return f"AuditSettings(sink={self.sink!r}, path={self.path!r})"

    @classmethod
    def parse(cls, config: TwiinConfig, environ: Mapping[str, str]) -> AuditSettings:
        table = config.sections.get("audit") or {}
        sink = _kind(
            {"kind": table.get("sink", "logging")}, "audit", ("logging", "jsonl", "memory"), "logging"
        )
        path = _path(config.base_dir, table, "audit", "path", required=sink == "jsonl")
        key = b""
        key_file = _path(config.base_dir, table, "audit", "pseudonym_key_file", required=False)
        if key_file is not None:
            try:
                key = key_file.read_bytes().strip()
            except OSError as exc:
                raise ConfigurationError("audit.pseudonym_key_file", f"cannot read: {exc.strerror}") from None
        else:
            key = environ.get(str(table.get("pseudonym_key_env", "TWIIN_AUDIT_KEY")), "").encode()
        if len(key) < 16:
            raise ConfigurationError(
                "audit.pseudonym_key_file", "a pseudonym key of at least 16 bytes is required"
            )
        return cls(sink, path, key)  # type: ignore[arg-type]


@attrs.frozen
class NodeSettings:
    """All node-level settings."""

    addressing: AddressingSettings
    consent: ConsentSettings
    token: TokenSettings
    audit: AuditSettings
    server: ServerSettings = ServerSettings()

    @classmethod
    def parse(cls, config: TwiinConfig, environ: Mapping[str, str]) -> NodeSettings:
        return cls(
            AddressingSettings.parse(config),
            ConsentSettings.parse(config),
            TokenSettings.parse(config),
            AuditSettings.parse(config, environ),
            ServerSettings.parse(config),
        )
