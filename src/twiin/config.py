"""Configuration objects (``attrs.frozen``) and their loading from TOML and the environment.

No module globals: a configuration is a value passed to the clients that use it. A key
password comes from a file (``password_file``) or an environment variable
(``password_env``, default ``TWIIN_KEY_PASSWORD``), never from the TOML file itself.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs

from twiin.credentials import Credentials, TrustAnchors
from twiin.errors import ConfigurationError, InvalidIdentifier
from twiin.fhir_version import FhirVersion
from twiin.identifiers import ProviderType, Ura

__all__ = [
    "EndpointConfig",
    "Participant",
    "RetryPolicy",
    "Timeouts",
    "TwiinConfig",
    "load_config",
]

ENV_PREFIX = "TWIIN_"
_SECTIONS = ("participant", "credentials", "trust")


@attrs.frozen
class Timeouts:
    """Seconds allowed per phase of a request. Every network call has a timeout."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 5.0


@attrs.frozen
class RetryPolicy:
    """When and how a request is retried.

    Only idempotent methods, only on transient answers (``retry_statuses``) and connection
    failures; never on TLS or authentication failures. Backoff is exponential with full jitter,
    bounded by ``max_attempts`` and ``deadline`` seconds overall.
    """

    max_attempts: int = 3
    backoff_base: float = 0.25
    backoff_max: float = 8.0
    deadline: float = 30.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    idempotent_methods: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
    max_retry_after: float = 30.0

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)


@attrs.frozen
class Participant:
    """Who we are: our care organisation."""

    ura: Ura
    name: str = ""
    provider_type: ProviderType | None = None


def _check_base_url(instance: EndpointConfig, attribute: Any, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(attribute.name, "must be an absolute https URL")
    if parts.scheme == "http" and not instance.allow_plaintext:
        raise ConfigurationError(attribute.name, "plaintext http is refused (set allow_plaintext for tests)")


@attrs.frozen
class EndpointConfig:
    """One remote service: base URL, FHIR version (for FHIR services) and connection policy."""

    base_url: str = attrs.field(validator=_check_base_url)
    fhir_version: FhirVersion | None = None
    timeouts: Timeouts = Timeouts()
    retry: RetryPolicy = RetryPolicy()
    allow_tls12: bool = False
    allow_plaintext: bool = attrs.field(default=False, kw_only=True)


@attrs.frozen(repr=False)
class TwiinConfig:
    """Everything a node needs: participant, credentials, trust anchors and endpoints.

    ``sections`` keeps the raw remaining TOML tables (consent, addressing, token, audit ...)
    for the higher layers that own them.
    """

    participant: Participant
    credentials: Credentials | None = None
    trust: TrustAnchors | None = None
    endpoints: Mapping[str, EndpointConfig] = attrs.field(factory=dict)
    sections: Mapping[str, Any] = attrs.field(factory=dict)
    base_dir: Path = Path()

    def __repr__(self) -> str:
        return (
            f"TwiinConfig(participant={self.participant!r}, credentials={self.credentials!r}, "
            f"endpoints={sorted(self.endpoints)!r})"
        )

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        *,
        base_dir: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> TwiinConfig:
        """Build a configuration from a parsed TOML-like mapping."""
        env = os.environ if environ is None else environ
        root = base_dir or Path()
        participant = _participant(_table(data, "participant"))
        creds_table = _table(data, "credentials", required=False)
        credentials = _credentials(creds_table, root, env) if creds_table else None
        trust_table = _table(data, "trust", required=False)
        trust = None
        if trust_table:
            bundle = _get_str(trust_table, "trust", "ca_bundle")
            trust = TrustAnchors.from_pem_file(root / bundle)
        endpoints = {
            name: _endpoint(f"endpoints.{name}", table)
            for name, table in _table(data, "endpoints", required=False).items()
        }
        rest = {k: v for k, v in data.items() if k not in (*_SECTIONS, "endpoints")}
        return cls(participant, credentials, trust, endpoints, rest, root)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TwiinConfig:
        """Build a configuration from ``TWIIN_<SECTION>_<KEY>`` environment variables only."""
        env = os.environ if environ is None else environ
        return cls.from_mapping(_overlay_env({}, env), environ=env)


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> TwiinConfig:
    """Load a TOML configuration file; ``TWIIN_<SECTION>_<KEY>`` variables override its values.

    Relative file paths in the configuration are resolved against the file's directory.
    """
    env = os.environ if environ is None else environ
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise ConfigurationError("config", f"cannot read {str(file)!r}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError("config", f"{str(file)!r} is not valid TOML: {exc}") from None
    for section in ("credentials",):
        if "password" in data.get(section, {}):
            raise ConfigurationError(
                f"{section}.password",
                "secrets may not be stored in the TOML file; use password_file or password_env",
            )
    return TwiinConfig.from_mapping(_overlay_env(data, env), base_dir=file.parent.resolve(), environ=env)


# --- helpers ---------------------------------------------------------------------------------


def _overlay_env(data: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()}
    for section in _SECTIONS:
        prefix = f"{ENV_PREFIX}{section.upper()}_"
        for name, value in env.items():
            if name.startswith(prefix) and name != "TWIIN_KEY_PASSWORD":
                key = name[len(prefix) :].lower()
                if key == "password":
                    continue  # read through password_env, never copied into the mapping
                merged.setdefault(section, {})[key] = value
    return merged


def _table(data: Mapping[str, Any], name: str, *, required: bool = True) -> Mapping[str, Any]:
    value = data.get(name)
    if value is None:
        if required:
            raise ConfigurationError(name, "missing section")
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(name, "must be a table")
    return value


def _get_str(table: Mapping[str, Any], section: str, key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{section}.{key}", "missing or not a string")
    return value


def _participant(table: Mapping[str, Any]) -> Participant:
    try:
        ura = Ura(str(table.get("ura", "")))
    except InvalidIdentifier as exc:
        raise ConfigurationError("participant.ura", exc.rule) from None
    kind = table.get("provider_type")
    try:
        provider_type = ProviderType(str(kind)) if kind else None
    except InvalidIdentifier as exc:
        raise ConfigurationError("participant.provider_type", exc.rule) from None
    return Participant(ura=ura, name=str(table.get("name", "")), provider_type=provider_type)


def _password(table: Mapping[str, Any], root: Path, env: Mapping[str, str]) -> bytes | None:
    if "password_file" in table:
        path = root / str(table["password_file"])
        try:
            return path.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise ConfigurationError("credentials.password_file", f"cannot read: {exc.strerror}") from None
    var = str(table.get("password_env", "TWIIN_KEY_PASSWORD"))
    value = env.get(var)
    return value.encode("utf-8") if value is not None else None


def _credentials(table: Mapping[str, Any], root: Path, env: Mapping[str, str]) -> Credentials:
    password = _password(table, root, env)
    if "pkcs12" in table:
        return Credentials.from_pkcs12(root / _get_str(table, "credentials", "pkcs12"), password)
    cert = root / _get_str(table, "credentials", "certificate")
    key = root / _get_str(table, "credentials", "key")
    return Credentials.from_pem_files(cert, key, password)


def _endpoint(name: str, table: Mapping[str, Any]) -> EndpointConfig:
    if not isinstance(table, Mapping):
        raise ConfigurationError(name, "must be a table")
    version = table.get("fhir_version")
    try:
        fhir_version = FhirVersion(str(version).upper()) if version else None
    except ValueError:
        raise ConfigurationError(f"{name}.fhir_version", "must be STU3 or R4") from None
    timeout = table.get("timeout")
    timeouts = (
        Timeouts()
        if timeout is None
        else Timeouts(connect=min(5.0, float(timeout)), read=float(timeout), write=float(timeout))
    )
    attempts = table.get("max_attempts")
    retry = RetryPolicy() if attempts is None else RetryPolicy(max_attempts=int(attempts))
    try:
        return EndpointConfig(
            base_url=_get_str(table, name, "base_url"),
            fhir_version=fhir_version,
            timeouts=timeouts,
            retry=retry,
            allow_tls12=bool(table.get("allow_tls12", False)),
            allow_plaintext=bool(table.get("allow_plaintext", False)),
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{name}.{exc.setting}", exc.problem) from None
