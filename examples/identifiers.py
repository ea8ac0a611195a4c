"""Typed identifiers: validation, masking and FHIR/HL7v3 conversions.

Run: python examples/identifiers.py
"""

from twiin import Bsn, FhirVersion, Ura
from twiin.errors import InvalidIdentifier


def main() -> None:
    patient = Bsn("999999151")
    print("patient:", patient)  # masked: *****9151
    print("FHIR search token:", Ura("1234").to_token())
    print("HL7v3 II:", Ura("1234").to_ii())
    identifier = Ura("87654321").to_identifier(FhirVersion.STU3)
    print("STU3 Identifier:", identifier.model_dump_json())
    for candidate in ("123456789", "12345678"):
        try:
            Bsn(candidate)
        except InvalidIdentifier as exc:
            print("rejected:", exc)


if __name__ == "__main__":
    main()
