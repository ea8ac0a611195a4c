"""The fixed identities of the sandbox network (see the table in the sandbox contract)."""

from __future__ import annotations

import attrs

from twiin.fhir_version import FhirVersion
from twiin.identifiers import Bsn, ProviderType, Ura
from twiin.testing.notified_pull import OTHER_PATIENT, PATIENT, RECEIVER, SENDER

__all__ = [
    "DIRECTORY_OPERATOR",
    "GP",
    "HOSPITAL",
    "MITZ_OPERATOR",
    "NO_CONSENT",
    "PARTICIPANTS",
    "PLACER",
    "WITH_CONSENT",
    "Participant",
]


@attrs.frozen
class Participant:
    """One party of the sandbox: its key (directory name), URA, UZI server number and FHIR version."""

    key: str
    ura: Ura
    uzi_number: str
    name: str
    provider_type: ProviderType
    fhir_version: FhirVersion


HOSPITAL = Participant(
    "hospital", SENDER, "900000001", "Sandbox Hospital", ProviderType("V4"), FhirVersion.STU3
)
"""The sending GtK: holds the BgZ data, notifies and serves the pull."""
GP = Participant("gp", RECEIVER, "900000002", "Sandbox GP Practice", ProviderType("Z3"), FhirVersion.STU3)
"""The receiving GtK: its Task endpoint accepts notifications, then it pulls."""
PLACER = Participant(
    "placer", Ura("33333333"), "900000003", "Sandbox Placer", ProviderType("V4"), FhirVersion.R4
)
"""The R4 placer server for TA Notifications and TA Workflow."""

PARTICIPANTS: tuple[Participant, ...] = (HOSPITAL, GP, PLACER)

DIRECTORY_OPERATOR = Participant(
    "directory", Ura("44444444"), "900000004", "Sandbox mCSD Directory", ProviderType("V4"), FhirVersion.R4
)
"""The identity the mCSD directory's server certificate carries (infrastructure, not listed)."""
MITZ_OPERATOR = Participant(
    "mitz", Ura("55555555"), "900000005", "Sandbox Mitz", ProviderType("V4"), FhirVersion.R4
)
"""The identity the fake Mitz's server certificate carries (infrastructure, not listed)."""

WITH_CONSENT: Bsn = PATIENT
"""999999151: Mitz answers Permit."""
NO_CONSENT: Bsn = OTHER_PATIENT
"""999998456: Mitz answers Deny."""
