"""``twiin resolve``: find a care provider's endpoints through the node's configured addressing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from twiin.addressing import PayloadType, ResolvedEndpoint, payload_types
from twiin.cli._common import EXIT_CHECK_FAILED, emit, handle_errors, json_option
from twiin.cli._node import config_option, open_node
from twiin.errors import EndpointNotFound, InvalidIdentifier
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura
from twiin.redaction import redact

__all__ = ["endpoint_summary", "register"]


def endpoint_summary(endpoint: ResolvedEndpoint) -> dict[str, Any]:
    """The JSON-ready fields of a resolved endpoint."""
    return {
        "address": endpoint.address,
        "fhir_version": endpoint.fhir_version.value if endpoint.fhir_version else None,
        "payload_types": [p.code for p in endpoint.payload_types],
        "organization": {"ura": endpoint.organization.ura.value, "name": endpoint.organization.name},
        "level": endpoint.level.value,
        "unit": endpoint.unit.name if endpoint.unit else None,
        "connection_type": endpoint.connection_type,
        "source": endpoint.source,
    }


def _ura(ctx: click.Context, param: click.Parameter, value: str) -> Ura:
    try:
        return Ura(value)
    except InvalidIdentifier as exc:
        raise click.BadParameter(exc.rule) from None


def _payload(ctx: click.Context, param: click.Parameter, value: str) -> PayloadType:
    try:
        return PayloadType.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _print_human(found: list[dict[str, Any]]) -> None:
    for item in found:
        version = item["fhir_version"] or "-"
        where = f" ({item['level']}: {item['unit']})" if item["unit"] else ""
        line = f"{item['address']}  FHIR {version}  {item['organization']['name']}{where}"
        click.echo(redact(line))  # names and addresses come from the directory, as in the JSON output


def register(cli: click.Group) -> None:
    """Add the ``resolve`` command to ``cli``."""

    @cli.command("resolve")
    @config_option
    @click.option("--ura", required=True, callback=_ura, help="URA of the care organisation.")
    @click.option(
        "--payload-type",
        required=True,
        callback=_payload,
        help="Payload type: a short name ("
        + ", ".join(sorted(payload_types.NAMES))
        + "), a code or system|code.",
    )
    @click.option(
        "--fhir-version",
        type=click.Choice(["STU3", "R4"], case_sensitive=False),
        help="Only endpoints of this FHIR version.",
    )
    @json_option
    @handle_errors
    def resolve(
        config_path: Path, ura: Ura, payload_type: PayloadType, fhir_version: str | None, as_json: bool
    ) -> None:
        """Resolve the endpoints of a URA for a payload type (static book, live directory or cache).

        Exit 1 when the organisation has no such endpoint.
        """
        version = FhirVersion(fhir_version.upper()) if fhir_version else None
        with open_node(config_path) as node:
            try:
                endpoints = node.directory.resolve(ura, payload_type, fhir_version=version)
            except EndpointNotFound as exc:
                reason = f"{exc} (short names: twiin resolve --help)"
                emit(
                    as_json,
                    {"ura": ura.value, "payload_type": payload_type.code, "endpoints": []},
                    lambda: click.echo(f"not found: {reason}"),
                )
                raise SystemExit(EXIT_CHECK_FAILED) from None
        found = [endpoint_summary(e) for e in endpoints]
        emit(
            as_json,
            {"ura": ura.value, "payload_type": payload_type.code, "endpoints": found},
            lambda: _print_human(found),
        )
