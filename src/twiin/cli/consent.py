"""``twiin consent check``: ask the node's consent source (Mitz or local register); fail closed."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from twiin.cli._common import EXIT_CHECK_FAILED, emit, handle_errors, json_option
from twiin.cli._node import config_option, open_node
from twiin.consent import ConsentDecision, ConsentQuestion, DataCategory, ProfessionalId, Purpose
from twiin.errors import ConfigurationError, InvalidIdentifier, TwiinError
from twiin.identifiers import Bsn, Identifier, ProviderType, RoleCode, Ura, UziNumber
from twiin.redaction import redact

__all__ = ["decision_summary", "register"]

T = TypeVar("T", bound=Identifier)


def _typed(kind: type[T]) -> Callable[[click.Context, click.Parameter, str | None], T | None]:
    """A click callback turning the option into ``kind``; the message never repeats the value."""

    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> T | None:
        if value is None:
            return None
        if kind is Bsn and value == "-":
            value = sys.stdin.readline().strip()
        try:
            return kind(value)
        except InvalidIdentifier as exc:
            raise click.BadParameter(exc.rule) from None

    return convert


def _category(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[DataCategory, ...]:
    try:
        found = tuple(dict.fromkeys(DataCategory.from_code(v.upper()) for v in values))
    except InvalidIdentifier:
        known = ", ".join(c.code for c in DataCategory)
        raise click.BadParameter(f"unknown data category (known: {known})") from None
    return found or (DataCategory.GGC002,)


def decision_summary(question: ConsentQuestion, decision: ConsentDecision) -> dict[str, Any]:
    """The JSON-ready answer; the patient only as a masked BSN."""
    return {
        "patient": question.patient.masked,
        "allowed": decision.allowed(),
        "decision": "Permit" if decision.allowed() else "Deny",
        "categories": {c.code: decision.decision(c).value for c in question.categories},
        "purpose": question.purpose.value,
        "requester_ura": question.requester_ura.value,
        "source": decision.source,
        "message_id": decision.message_id,
    }


def _required(value: T | None, setting: str) -> T:
    if value is None:
        raise ConfigurationError(setting, "required to ask a consent question (or give the option)")
    return value


def register(cli: click.Group) -> None:
    """Add the ``consent`` group to ``cli``."""

    @cli.group("consent")
    def consent() -> None:
        """Consent (Mitz closed question or the local register)."""

    @consent.command("check")
    @config_option
    @click.option("--bsn", required=True, callback=_typed(Bsn), help="Patient BSN ('-' reads it from stdin).")
    @click.option(
        "--category",
        "categories",
        multiple=True,
        callback=_category,
        help="Data category (repeatable; GGC002).",
    )
    @click.option(
        "--purpose", type=click.Choice([p.value for p in Purpose]), default="TREAT", show_default=True
    )
    @click.option("--requester-ura", callback=_typed(Ura), help="Requesting organisation (default: our URA).")
    @click.option(
        "--requester-type", callback=_typed(ProviderType), help="Default: consent.requester_provider_type."
    )
    @click.option(
        "--professional", callback=_typed(UziNumber), help="UZI number; default: consent.professional_uzi."
    )
    @click.option("--role", callback=_typed(RoleCode), help="Role code; default: consent.professional_role.")
    @json_option
    @handle_errors
    def check(
        *,
        config_path: Path,
        bsn: Bsn,
        categories: tuple[DataCategory, ...],
        purpose: str,
        requester_ura: Ura | None,
        requester_type: ProviderType | None,
        professional: UziNumber | None,
        role: RoleCode | None,
        as_json: bool,
    ) -> None:
        """Ask whether the patient consents to sharing the categories with the requester.

        Exit 0 on Permit for every category, 1 on Deny or any failure to get an answer (fail
        closed), 2 on a configuration error. The BSN is only ever shown masked.
        """
        with open_node(config_path) as node:
            settings = node.settings.consent
            uzi = professional or settings.professional_uzi
            question = ConsentQuestion(
                patient=bsn,
                holder_ura=node.ura,
                holder_type=_required(settings.holder_provider_type, "participant.provider_type"),
                requester_ura=requester_ura or node.ura,
                requester_type=_required(
                    requester_type or settings.requester_provider_type, "consent.requester_provider_type"
                ),
                professional=ProfessionalId.uzi(_required(uzi, "consent.professional_uzi")),
                role=_required(role or settings.professional_role, "consent.professional_role"),
                categories=categories,
                purpose=Purpose(purpose),
            )
            try:
                decision = node.consent.check(question)
            except ConfigurationError:
                raise
            except TwiinError as exc:  # no answer is no permission
                _fail_closed(as_json, bsn, exc)
        summary = decision_summary(question, decision)
        emit(as_json, summary, lambda: click.echo(_human(summary)))
        if not decision.allowed():
            raise SystemExit(EXIT_CHECK_FAILED)


def _fail_closed(as_json: bool, bsn: Bsn, exc: TwiinError) -> None:
    reason = redact(f"{type(exc).__name__}: {exc}")
    failure = {"patient": bsn.masked, "allowed": False, "decision": "Deny", "error": reason}
    emit(as_json, failure, lambda: click.echo(f"not permitted for {bsn.masked} (fail closed): {reason}"))
    raise SystemExit(EXIT_CHECK_FAILED)


def _human(summary: dict[str, Any]) -> str:
    parts = ", ".join(f"{code}={value}" for code, value in summary["categories"].items())
    return f"{summary['decision']} for {summary['patient']} ({parts}; purpose {summary['purpose']})"
