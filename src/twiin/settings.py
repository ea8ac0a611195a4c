"""Node-level settings read from the TOML sections above the foundation config.

``[addressing]``, ``[consent]``, ``[token]``, ``[audit]`` and ``[server]`` choose which
implementation answers each generic function. This module only parses and checks them;
:mod:`twiin.node` wires the implementations.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from twiin.config import TwiinConfig
from twiin.errors import ConfigurationError

__all__ = [
    "AddressingSettings",
    "AuditSettings",
    "ConsentSettings",
    "NodeSettings",
    "TokenSettings",
]

AddressingKind = Literal["static", "live", "cache"]
ConsentKind = Literal["local", "mitz"]


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


@attrs.frozen
class ConsentSettings:
    """``[consent]``: a ``local`` register (SQLite) or the national ``mitz`` closed question."""

    kind: ConsentKind = "local"
    register_path: Path | None = None
    endpoint: str | None = None
    subscriptions: bool = False

    @classmethod
    def parse(cls, config: TwiinConfig) -> ConsentSettings:
        table = config.sections.get("consent") or {}
        kind = _kind(table, "consent", ("local", "mitz"), "local")
        if kind == "local":
            return cls(
                "local", register_path=_path(config.base_dir, table, "consent", "register", required=True)
            )
        endpoint = _endpoint_name(config, table, "consent", required=True)
        return cls("mitz", endpoint=endpoint, subscriptions=bool(table.get("subscriptions", False)))


@attrs.frozen
class TokenSettings:
    """``[token]``: how we authenticate to other GtKs' token endpoints."""

    client_id: str | None = None
    algorithm: str = "PS256"
    assertion_lifetime: int = 60
    certificate_bound: bool = True
    scope: str | None = None

    @classmethod
    def parse(cls, config: TwiinConfig) -> TokenSettings:
        table = config.sections.get("token") or {}
        lifetime = int(table.get("assertion_lifetime", 60))
        if not 1 <= lifetime <= 300:
            raise ConfigurationError("token.assertion_lifetime", "must be 1-300 seconds")
        alg = str(table.get("algorithm", "PS256"))
        if alg not in ("RS256", "PS256", "ES256", "ES384", "ES512"):
            raise ConfigurationError("token.algorithm", "must be RS256, PS256, ES256, ES384 or ES512")
        return cls(
            client_id=table.get("client_id"),
            algorithm=alg,
            assertion_lifetime=lifetime,
            certificate_bound=bool(table.get("certificate_bound", True)),
            scope=table.get("scope"),
        )


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

    @classmethod
    def parse(cls, config: TwiinConfig, environ: Mapping[str, str]) -> NodeSettings:
        return cls(
            AddressingSettings.parse(config),
            ConsentSettings.parse(config),
            TokenSettings.parse(config),
            AuditSettings.parse(config, environ),
        )
