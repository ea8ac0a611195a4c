"""Writing the sandbox directory: trust anchors, pseudonym key, per-participant credentials and node.toml.

The layout (read by :class:`twiin.node.Node`, the CLI and the examples)::

    DIR/sandbox.json  ca.pem  audit-pseudonym.key
    DIR/<participant>/node.toml  cert.pem  key.pem

Private keys are written unencrypted with mode 0600: they are throw-away test keys of a
throw-away PKI, trusted by nothing outside the sandbox.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from cryptography.hazmat.primitives import serialization

from twiin.sandbox.participants import Participant
from twiin.testing.pki import IssuedCertificate, TestPKI

__all__ = ["NodeUrls", "render_node_toml", "write_identity", "write_node", "write_private", "write_trust"]

PROFESSIONAL_UZI = "900000002"
PROFESSIONAL_ROLE = "01.015"
REQUESTER_PROVIDER_TYPE = "Z3"


@attrs.frozen
class NodeUrls:
    """The URLs a participant's node.toml names."""

    directory: str
    mitz: str
    fhir_base: str
    token_url: str


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def write_identity(folder: Path, issued: IssuedCertificate) -> None:
    """Write ``folder/cert.pem`` (the chain) and ``folder/key.pem`` (owner-only)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cert.pem").write_bytes(issued.cert_pem())
    write_private(folder / "key.pem", issued.key_pem())


def write_trust(root: Path, pki: TestPKI) -> Path:
    """``ca.pem``: the test UZI root and its server CA (the trust anchors every node loads)."""
    path = root / "ca.pem"
    certificates = (pki.root.certificate, pki.intermediate.certificate)
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for the ASCII values written here
    raise TypeError(f"no TOML rendering for {type(value).__name__}")


def render_node_toml(participant: Participant, urls: NodeUrls) -> str:
    """The node.toml of ``participant`` (paths relative to its own directory)."""
    tables: dict[str, Mapping[str, Any]] = {
        "participant": {
            "ura": participant.ura.value,
            "name": participant.name,
            "provider_type": participant.provider_type.value,
        },
        "credentials": {"certificate": "cert.pem", "key": "key.pem"},
        "trust": {"ca_bundle": "../ca.pem"},
        "endpoints.directory": {"base_url": urls.directory, "fhir_version": "R4"},
        "endpoints.mitz": {"base_url": urls.mitz},
        "addressing": {"kind": "live", "endpoint": "directory"},
        "consent": {
            "kind": "mitz",
            "endpoint": "mitz",
            "professional_uzi": PROFESSIONAL_UZI,
            "professional_role": PROFESSIONAL_ROLE,
            "requester_provider_type": REQUESTER_PROVIDER_TYPE,
        },
        "token": {"algorithm": "ES256"},
        "audit": {"sink": "jsonl", "path": "audit.jsonl", "pseudonym_key_file": "../audit-pseudonym.key"},
        "server": {"fhir_base": urls.fhir_base, "token_url": urls.token_url},
    }
    lines = [f"# twiin sandbox node configuration for {participant.name} (generated)"]
    for name, table in tables.items():
        lines.append(f"\n[{name}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in table.items())
    return "\n".join(lines) + "\n"


def write_node(root: Path, participant: Participant, issued: IssuedCertificate, urls: NodeUrls) -> Path:
    """Write ``<participant>/cert.pem``, ``key.pem`` and ``node.toml``; returns the node.toml path."""
    folder = root / participant.key
    write_identity(folder, issued)
    config = folder / "node.toml"
    config.write_text(render_node_toml(participant, urls), encoding="utf-8")
    return config
