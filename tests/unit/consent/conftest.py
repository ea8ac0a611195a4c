"""Shared values for the consent tests."""

from __future__ import annotations

import pytest

from twiin.consent import ConsentQuestion, DataCategory, ProfessionalId, Purpose
from twiin.identifiers import Bsn, ProviderType, RoleCode, Ura, UziNumber

ENDPOINT = "https://mitz.test/tst-us/mitz/geslotenautorisatievraag/xacml3"
PATIENT = "900186021"


def make_question(
    *categories: DataCategory,
    patient: str = PATIENT,
    mandated: ProfessionalId | None = None,
    purpose: Purpose = Purpose.TREAT,
    requester_ura: str = "666",
    requester_type: str = "Z3",
) -> ConsentQuestion:
    return ConsentQuestion(
        patient=Bsn(patient),
        holder_ura=Ura("659"),
        holder_type=ProviderType("Z3"),
        requester_ura=Ura(requester_ura),
        requester_type=ProviderType(requester_type),
        professional=UziNumber("000095254"),
        role=RoleCode("01.015"),
        categories=categories or (DataCategory.GGC002,),
        purpose=purpose,
        mandated=mandated,
    )


@pytest.fixture
def question() -> ConsentQuestion:
    return make_question()


@pytest.fixture
def three() -> ConsentQuestion:
    return make_question(DataCategory.GGC002, DataCategory.GGC012, DataCategory.GGC013)
