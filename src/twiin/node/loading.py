"""Loading a node configuration and the checks that make a configuration that cannot work fail early.

:func:`load_node_config` parses the TOML file (:func:`twiin.config.load_config`) and the node
sections (:class:`twiin.settings.NodeSettings`); :func:`verify_node_config` then refuses, with a
:class:`~twiin.errors.ConfigurationError` naming the setting: missing credentials or trust
anchors, a certificate whose UZI URA differs from ``participant.ura``, and a certificate outside
its validity period. An **expired** (or not yet valid) certificate is an error, not a warning: no
Twiin peer accepts it, so the node could not exchange anything. A certificate that expires
within :data:`EXPIRY_WARNING` only logs a warning (``twiin doctor`` shows it too).
A key that does not match the certificate, unreadable trust anchors and plaintext ``http``
endpoints are refused while parsing (:mod:`twiin.credentials`, :mod:`twiin.config`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from twiin.auth.uzi import UziServerIdentity, uzi_identity
from twiin.config import TwiinConfig, load_config
from twiin.credentials import Credentials, TrustAnchors
from twiin.errors import ConfigurationError, UziIdentityError
from twiin.redaction import get_logger
from twiin.settings import NodeSettings

__all__ = ["EXPIRY_WARNING", "load_node_config", "node_identity", "require_parts", "verify_node_config"]

EXPIRY_WARNING = timedelta(days=30)
log = get_logger("twiin.node")


def load_node_config(
    path: str | Path, environ: Mapping[str, str] | None = None
) -> tuple[TwiinConfig, NodeSettings]:
    """Parse ``path`` into the foundation config and the node settings (no identity checks yet)."""
    env = os.environ if environ is None else environ
    config = load_config(path, env)
    return config, NodeSettings.parse(config, env)


def require_parts(config: TwiinConfig) -> tuple[Credentials, TrustAnchors]:
    """The credentials and trust anchors; a node cannot do mTLS without both."""
    if config.credentials is None:
        raise ConfigurationError("credentials", "missing section: a node needs its UZI server certificate")
    if config.trust is None:
        raise ConfigurationError("trust.ca_bundle", "missing: a node needs trust anchors for its peers")
    return config.credentials, config.trust


def node_identity(credentials: Credentials) -> UziServerIdentity:
    """The UZI identity of our certificate, as a configuration error when it has none."""
    try:
        return uzi_identity(credentials.certificate)
    except UziIdentityError as exc:
        raise ConfigurationError(
            "credentials.certificate", f"no usable UZI identity: {exc.message}"
        ) from None


def verify_node_config(config: TwiinConfig, *, now: datetime | None = None) -> UziServerIdentity:
    """Check that the configuration can work; returns our certificate's UZI identity."""
    credentials, _ = require_parts(config)
    identity = node_identity(credentials)
    if identity.ura != config.participant.ura:
        raise ConfigurationError(
            "participant.ura",
            f"{config.participant.ura} differs from the URA {identity.ura} in the certificate's UZI identity",
        )
    at = now or datetime.now(UTC)
    if identity.not_after <= at:
        raise ConfigurationError(
            "credentials.certificate", f"the certificate expired on {identity.not_after:%Y-%m-%d}"
        )
    if identity.not_before > at:
        raise ConfigurationError(
            "credentials.certificate", f"the certificate is not valid before {identity.not_before:%Y-%m-%d}"
        )
    if identity.not_after - at < EXPIRY_WARNING:
        log.warning("the node certificate expires on %s", f"{identity.not_after:%Y-%m-%d}")
    return identity
