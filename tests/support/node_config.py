"""Write node.toml configurations with TestPKI certificates into a directory (tests only)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twiin.testing.pki import IssuedCertificate, TestPKI

Table = dict[str, Any]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value))


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """A minimal TOML writer for nested tables of strings, numbers and booleans."""
    lines: list[str] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in data.items() if isinstance(v, Mapping)}
    if prefix and scalars:
        lines.append(f"[{prefix}]")
    lines += [f"{json.dumps(k)} = {_value(v)}" for k, v in scalars.items()]
    for key, table in tables.items():
        lines.append(to_toml(table, f"{prefix}.{key}" if prefix else key))
    return "\n".join(lines) + "\n"


def base_config(ura: str = "11111111") -> Table:
    """A loadable config: static addressing, local consent, JSON-lines audit."""
    return {
        "participant": {"ura": ura, "name": "Test Hospital", "provider_type": "V4"},
        "credentials": {"certificate": "cert.pem", "key": "key.pem"},
        "trust": {"ca_bundle": "ca.pem"},
        "addressing": {"kind": "static", "address_book": "book.json"},
        "consent": {
            "kind": "local",
            "professional_uzi": "900000002",
            "professional_role": "01.015",
            "requester_provider_type": "Z3",
        },
        "token": {},
        "audit": {"sink": "jsonl", "path": "audit.jsonl", "pseudonym_key_file": "audit.key"},
    }


def write_node(
    folder: Path,
    pki: TestPKI,
    config: Mapping[str, Any] | None = None,
    *,
    issued: IssuedCertificate | None = None,
    key_of: IssuedCertificate | None = None,
    book: Mapping[str, Any] | None = None,
) -> Path:
    """Write cert.pem, key.pem, ca.pem, audit.key, book.json and node.toml; returns node.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    data = dict(config if config is not None else base_config())
    ura = str(data["participant"]["ura"])
    cert = issued or pki.issue_server(ura=ura, key_type="ec256")
    (folder / "cert.pem").write_bytes(cert.cert_pem())
    (folder / "key.pem").write_bytes((key_of or cert).key_pem())
    (folder / "ca.pem").write_bytes(pki.ca_pem())
    (folder / "audit.key").write_text("0123456789abcdef0123456789abcdef")
    (folder / "book.json").write_text(json.dumps(book or {"organization": []}))
    path = folder / "node.toml"
    path.write_text(to_toml(data))
    return path
