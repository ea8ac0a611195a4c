"""Consent values: the question a data holder asks, the decision, and the checker protocols.

A consent check is asked by the *data holder* after receiving a request: "may organisation B
(type, professional, role) see category C of patient P's data that we (holder A) keep?". Only
``Permit`` and ``Deny`` are decisions; anything else is an error and the caller must deny
(see :func:`is_allowed`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

import attrs

from twiin import naming
from twiin.errors import ConsentError, InvalidIdentifier, TwiinError
from twiin.identifiers import Bsn, ProviderType, RoleCode, Ura, UziNumber

__all__ = [
    "AsyncConsentChecker",
    "ConsentChecker",
    "ConsentDecision",
    "ConsentQuestion",
    "DataCategory",
    "Decision",
    "ProfessionalId",
    "Purpose",
    "ais_allowed",
    "is_allowed",
]


class DataCategory(enum.Enum):
    """Mitz data categories (gegevenscategorieën) with their code system.

    Mitz's catalogue is hierarchical: a consent for ``GGC002`` (treatment data) also covers
    ``GGC012`` (results) and ``GGC013`` (medication), not the other way round.
    """

    GGC002 = "GGC002"
    GGC012 = "GGC012"
    GGC013 = "GGC013"

    @property
    def code(self) -> str:
        """The wire code, e.g. ``GGC002``."""
        return self.value

    @property
    def oid(self) -> str:
        """The code system OID used in the XACML closed question."""
        return naming.MITZ_DATA_CATEGORY_OID

    @property
    def system(self) -> str:
        """The FHIR code system URI used in Mitz notifications."""
        return naming.MITZ_DATA_CATEGORY_SYSTEM

    @property
    def display(self) -> str:
        """The Dutch display name."""
        return _DISPLAY[self]

    def covers(self, other: DataCategory) -> bool:
        """True when a consent for ``self`` also applies to ``other`` (same or lower category)."""
        return self is other or (self is DataCategory.GGC002 and other is not DataCategory.GGC002)

    @classmethod
    def from_code(cls, code: str) -> DataCategory:
        """The category for ``code``; :class:`~twiin.errors.InvalidIdentifier` when unknown."""
        try:
            return cls(code)
        except ValueError:
            raise InvalidIdentifier("Mitz data category", "unknown code") from None


_DISPLAY = {
    DataCategory.GGC002: "Behandelgegevens",
    DataCategory.GGC012: "Uitslagen",
    DataCategory.GGC013: "Medicatiegegevens",
}


class Purpose(enum.Enum):
    """Purpose of use: ``TREAT`` (explicit consent) or ``COC`` (assumed consent)."""

    TREAT = "TREAT"
    COC = "COC"

    @property
    def oid(self) -> str:
        """The purpose-of-use code system OID."""
        return naming.PURPOSE_OF_USE_OID


class Decision(enum.Enum):
    """The only two consent decisions."""

    PERMIT = "Permit"
    DENY = "Deny"


def _professional(value: ProfessionalId | UziNumber) -> ProfessionalId:
    return ProfessionalId.uzi(value) if isinstance(value, UziNumber) else value


def _optional_professional(value: ProfessionalId | UziNumber | None) -> ProfessionalId | None:
    return None if value is None else _professional(value)


@attrs.frozen
class ProfessionalId:
    """A professional's HL7v3 identifier (UZI or Dezi number under root ``2.16.528.1.1007.3.1``).

    Mitz implementations send UZI numbers with ``assigningAuthorityName="CIBG"``; other roots
    (a Dezi or local identifier) are allowed, as the Rust client does.
    """

    root: str
    extension: str
    assigning_authority_name: str | None = None

    @classmethod
    def uzi(cls, number: UziNumber | str) -> ProfessionalId:
        """An UZI/Dezi number under the UZI OID, assigned by CIBG."""
        value = number if isinstance(number, UziNumber) else UziNumber(number)
        return cls(naming.UZI_OID, value.value, "CIBG")


def _categories(value: Iterable[DataCategory]) -> tuple[DataCategory, ...]:
    return tuple(value)


def _check_categories(instance: object, attribute: object, value: tuple[DataCategory, ...]) -> None:
    if not value:
        raise ConsentError("a consent question needs at least one data category")
    if not all(isinstance(c, DataCategory) for c in value):
        raise ConsentError("data categories must be DataCategory values")
    if len(set(value)) != len(value):
        raise ConsentError("a data category may be asked only once per question")


@attrs.frozen
class ConsentQuestion:
    """A closed consent question: patient, holder (us), requester, professional, categories, purpose."""

    patient: Bsn = attrs.field(validator=attrs.validators.instance_of(Bsn))
    holder_ura: Ura = attrs.field(validator=attrs.validators.instance_of(Ura))
    holder_type: ProviderType = attrs.field(validator=attrs.validators.instance_of(ProviderType))
    requester_ura: Ura = attrs.field(validator=attrs.validators.instance_of(Ura))
    requester_type: ProviderType = attrs.field(validator=attrs.validators.instance_of(ProviderType))
    professional: ProfessionalId = attrs.field(converter=_professional)
    role: RoleCode = attrs.field(validator=attrs.validators.instance_of(RoleCode))
    categories: tuple[DataCategory, ...] = attrs.field(
        default=(DataCategory.GGC002,), converter=_categories, validator=_check_categories
    )
    purpose: Purpose = attrs.field(default=Purpose.TREAT, validator=attrs.validators.instance_of(Purpose))
    mandated: ProfessionalId | None = attrs.field(default=None, converter=_optional_professional)


@attrs.frozen
class ConsentDecision:
    """Permit or Deny per asked category. ``allowed()`` is True only for a clean Permit everywhere."""

    categories: tuple[DataCategory, ...]
    decisions: Mapping[DataCategory, Decision]
    source: str = "mitz"
    message_id: str | None = None

    def decision(self, category: DataCategory) -> Decision:
        """The decision for ``category``; Deny when it was not asked or not answered."""
        return self.decisions.get(category, Decision.DENY)

    def allowed(self, category: DataCategory | None = None) -> bool:
        """True when ``category`` (default: every asked category) has a Permit."""
        wanted = (category,) if category is not None else self.categories
        return bool(wanted) and all(self.decisions.get(c) is Decision.PERMIT for c in wanted)

    def permitted(self) -> frozenset[DataCategory]:
        """The categories with a Permit."""
        return frozenset(c for c, d in self.decisions.items() if d is Decision.PERMIT)


@runtime_checkable
class ConsentChecker(Protocol):
    """Anything that answers a consent question (Mitz, a local register, a fake)."""

    def check(self, question: ConsentQuestion) -> ConsentDecision:
        """Answer ``question`` or raise a :class:`~twiin.errors.ConsentError`."""
        ...


@runtime_checkable
class AsyncConsentChecker(Protocol):
    """Async twin of :class:`ConsentChecker`."""

    async def check(self, question: ConsentQuestion) -> ConsentDecision:
        """Answer ``question`` or raise a :class:`~twiin.errors.ConsentError`."""
        ...


def is_allowed(checker: ConsentChecker, question: ConsentQuestion) -> bool:
    """Fail closed: True only for a clean Permit on every category; False on any twiin error."""
    try:
        return checker.check(question).allowed()
    except TwiinError:
        return False


async def ais_allowed(checker: AsyncConsentChecker, question: ConsentQuestion) -> bool:
    """Async twin of :func:`is_allowed`."""
    try:
        decision = await checker.check(question)
    except TwiinError:
        return False
    return decision.allowed()
