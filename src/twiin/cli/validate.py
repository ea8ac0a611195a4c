"""``twiin validate``: check a FHIR resource (JSON or XML file) against the Twiin profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from twiin import validation
from twiin.cli._common import EXIT_CHECK_FAILED, EXIT_USAGE, emit, handle_errors, json_option
from twiin.errors import ModelValidationError, UnsafeXML
from twiin.fhir.content import is_xml, load_json, parse_resource, xml_to_dict
from twiin.fhir_version import FhirVersion
from twiin.redaction import redact

__all__ = ["load_resource", "profile_url", "register"]


def profile_url(name: str) -> str:
    """A Twiin profile canonical from its URL or its last path segment (``twiin-coordination-task``)."""
    url = name.split("|", 1)[0]
    if url in validation.PROFILES:
        return url
    matches = [known for known in validation.PROFILES if known.rsplit("/", 1)[-1] == url]
    return matches[0] if len(matches) == 1 else url  # an unknown name is refused by validate()


def load_resource(data: bytes, version: FhirVersion) -> dict[str, Any]:
    """FHIR JSON of a JSON or XML document; ModelValidationError/UnsafeXML when unreadable."""
    if is_xml(None, data):
        return xml_to_dict(data, version)
    return load_json(data)


def model_issues(data: dict[str, Any], version: FhirVersion) -> list[validation.ValidationIssue]:
    """Issues of the FHIR base model of ``version`` (unknown or missing elements, wrong types)."""
    try:
        parse_resource(data, version)
    except ModelValidationError as exc:
        resource_type = str(data.get("resourceType", "Resource"))
        detail = str(exc).partition("failed validation: ")[2] or str(exc)
        issues = []
        for problem in detail.split("; "):
            location, _, kind = problem.rpartition(": ")
            path = f"{resource_type}.{location}" if location and location != "<root>" else resource_type
            issues.append(validation.ValidationIssue("fhir-model", "error", path, kind or problem))
        return issues
    return []


def _print_human(issues: list[validation.ValidationIssue], checked: list[str]) -> None:
    if not checked:
        click.echo("no Twiin profile declared or given and no --version: nothing checked")
        return
    for issue in issues:
        message = issue.message.removeprefix(f"{issue.path}: ")
        click.echo(redact(f"{issue.severity:<8}{issue.key:<14}{issue.path}: {message}"))
    errors = len(validation.errors_only(issues))
    click.echo(f"{errors} error(s), {len(issues) - errors} warning(s) against {', '.join(checked)}")


def register(cli: click.Group) -> None:
    """Add the ``validate`` command to ``cli``."""

    @cli.command("validate")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--version",
        "fhir_version",
        type=click.Choice(["STU3", "R4"], case_sensitive=False),
        default=None,
        help="FHIR version of FILE: checks the base model too (default R4 when a Twiin profile applies).",
    )
    @click.option(
        "--profile",
        "profiles",
        multiple=True,
        help="Twiin profile canonical or name (repeatable); default: the profiles in meta.profile.",
    )
    @json_option
    @handle_errors
    def validate_command(
        file: Path, fhir_version: str | None, profiles: tuple[str, ...], as_json: bool
    ) -> None:
        """Check FILE (FHIR JSON or XML) against the Twiin profile invariants.

        Prints every issue with key, severity and path. Exit 1 on any error, 0 when there are
        only warnings or none, 2 when FILE cannot be read as a FHIR resource.
        """
        version = FhirVersion(fhir_version.upper()) if fhir_version else FhirVersion.R4
        try:
            data = load_resource(file.read_bytes(), version)
        except (OSError, ModelValidationError, UnsafeXML) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else redact(str(exc))  # may quote the file
            click.echo(f"cannot read {file}: {reason}", err=True)
            raise SystemExit(EXIT_USAGE) from None
        targets = [profile_url(p) for p in profiles] or validation.declared_profiles(data)
        issues = [issue for url in targets for issue in validation.validate(data, profile=url)]
        base_model = version.value if fhir_version or targets else None  # Twiin profiles are R4
        if base_model:  # a path the profile check already reports is not repeated
            reported = {issue.path for issue in issues}
            issues = [i for i in model_issues(data, version) if i.path not in reported] + issues
        failed = validation.has_errors(issues)
        result = {
            "file": str(file),
            "profiles": targets,
            "base_model": base_model,
            "valid": not failed,
            "issues": [
                {"key": i.key, "severity": i.severity, "path": i.path, "message": i.message} for i in issues
            ],
        }
        checked = [f"the FHIR {base_model} base model"] * bool(base_model) + targets
        emit(as_json, result, lambda: _print_human(issues, checked))
        if failed:
            raise SystemExit(EXIT_CHECK_FAILED)
