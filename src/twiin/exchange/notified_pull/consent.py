"""Connect a :class:`~twiin.consent.ConsentChecker` (Mitz or a local register) to the pull guard.

The pull guard asks a :data:`~twiin.exchange.notified_pull.ports.ConsentCheck` per request;
:func:`consent_check` builds the closed consent question from it (holder = us, requester = the
notified receiver, data category from the resource type) and answers fail-closed.
"""

from __future__ import annotations

from collections.abc import Callable

from twiin.consent import ConsentChecker, ConsentQuestion, DataCategory, ProfessionalId, is_allowed
from twiin.exchange.notified_pull.ports import ConsentCheck, ConsentRequest
from twiin.identifiers import ProviderType, RoleCode

__all__ = ["category_for", "consent_check"]

_MEDICATION = {"Medication", "MedicationStatement", "MedicationRequest", "MedicationDispense"}
_RESULTS = {"Observation", "DiagnosticReport", "Specimen"}


def category_for(resource_type: str) -> DataCategory:
    """The Mitz data category of a resource type (medication, results, else treatment data)."""
    if resource_type in _MEDICATION:
        return DataCategory.GGC013
    if resource_type in _RESULTS:
        return DataCategory.GGC012
    return DataCategory.GGC002


def consent_check(
    checker: ConsentChecker,
    *,
    holder_type: ProviderType,
    requester_type: ProviderType | Callable[[ConsentRequest], ProviderType],
    professional: ProfessionalId,
    role: RoleCode,
    categories: Callable[[str], DataCategory] = category_for,
) -> ConsentCheck:
    """A fail-closed consent check for the pull guard built on ``checker``."""

    def check(request: ConsentRequest) -> bool:
        kind = requester_type(request) if callable(requester_type) else requester_type
        question = ConsentQuestion(
            patient=request.patient, holder_ura=request.holder, holder_type=holder_type,
            requester_ura=request.requester, requester_type=kind, professional=professional,
            role=role, categories=(categories(request.resource_type),),
        )  # fmt: skip
        return is_allowed(checker, question)

    return check
