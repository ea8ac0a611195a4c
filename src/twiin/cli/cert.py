"""``twiin cert inspect``: the UZI identity of a certificate (PEM, DER or PKCS#12)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from twiin.auth.uzi import UziServerIdentity, uzi_identity
from twiin.cli._common import EXIT_CHECK_FAILED, emit, handle_errors, json_option
from twiin.errors import UziIdentityError

__all__ = ["identity_summary", "register"]


def identity_summary(identity: UziServerIdentity, now: datetime) -> dict[str, Any]:
    """The fields ``cert inspect`` shows, as JSON-ready data (no key material)."""
    if now < identity.not_before:
        state = "not yet valid"
    elif now > identity.not_after:
        state = "expired"
    else:
        state = "valid"
    return {
        "ura": identity.ura.value,
        "uzi_number": identity.uzi_number.value,
        "agb": identity.agb,
        "card_type": identity.card_type,
        "server_certificate": identity.is_server_certificate,
        "role": identity.role,
        "ca_oid": identity.ca_oid,
        "subject": {
            "common_name": identity.subject_common_name,
            "organization": identity.subject_organization,
            "serial_number": identity.subject_serial_number,
        },
        "not_before": identity.not_before.isoformat(),
        "not_after": identity.not_after.isoformat(),
        "validity": state,
        "expired": state == "expired",
        "x5t#S256": identity.thumbprint,
    }


def _print_human(summary: dict[str, Any]) -> None:
    subject = summary["subject"]
    rows = [
        ("URA", summary["ura"]),
        ("UZI number", summary["uzi_number"]),
        ("card type", summary["card_type"] + (" (server)" if summary["server_certificate"] else "")),
        ("role", summary["role"]),
        ("AGB", summary["agb"]),
        ("subject CN", subject["common_name"] or "-"),
        ("subject O", subject["organization"] or "-"),
        ("valid from", summary["not_before"]),
        ("valid until", summary["not_after"]),
        ("validity", summary["validity"]),
        ("x5t#S256", summary["x5t#S256"]),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<13}{value}")


def _read_password(path: Path | None) -> bytes | None:
    if path is None:
        return None
    return path.read_bytes().rstrip(b"\r\n")


def register(cli: click.Group) -> None:
    """Add the ``cert`` group to ``cli``."""

    @cli.group("cert")
    def cert() -> None:
        """Certificates: read the UZI identity of a UZI server certificate."""

    @cert.command("inspect")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--password-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="File holding the PKCS#12 password (first line).",
    )
    @click.option(
        "--require-valid", is_flag=True, help="Also exit 1 when the certificate is expired or not yet valid."
    )
    @json_option
    @handle_errors
    def inspect(file: Path, password_file: Path | None, require_valid: bool, as_json: bool) -> None:
        """Show URA, UZI number, card type, role, subject, validity and x5t#S256 of FILE.

        FILE is PEM, DER or PKCS#12 (leaf first). The chain is not validated. Exit 1 when the
        certificate carries no valid UZI identity (or, with --require-valid, is out of date).
        """
        try:
            identity = uzi_identity(file, password=_read_password(password_file))
        except UziIdentityError as exc:
            reason = str(exc)
            emit(
                as_json,
                {"file": str(file), "uzi": False, "error": reason},
                lambda: click.echo(f"no UZI identity: {reason}"),
            )
            raise SystemExit(EXIT_CHECK_FAILED) from None
        summary = identity_summary(identity, datetime.now(UTC))
        # a certificate holds no patient data: printed unredacted so the UZI number stays exact
        emit(
            as_json,
            {"file": str(file), "uzi": True, **summary},
            lambda: _print_human(summary),
            redact_output=False,
        )
        if require_valid and summary["validity"] != "valid":
            raise SystemExit(EXIT_CHECK_FAILED)
