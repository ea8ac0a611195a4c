"""Consent: ask Mitz the closed question "may this requester get this patient's data from us?".

Run: python examples/consent.py SANDBOX_DIR
"""

from __future__ import annotations

from _sandbox import node_config, sandbox_dir, sandbox_info

from twiin import Bsn, Ura
from twiin.config import load_config
from twiin.consent import ConsentQuestion, DataCategory, MitzClient, ProfessionalId, is_allowed
from twiin.identifiers import ProviderType, RoleCode


def main() -> None:
    directory = sandbox_dir()
    patients = sandbox_info(directory)["patients"]
    config = load_config(node_config(directory, "hospital"))  # we hold the data
    assert config.participant.provider_type is not None
    asked = config.sections["consent"]  # who asks: professional, role, requester's provider type

    with MitzClient(
        config.endpoints["mitz"].base_url, credentials=config.credentials, trust=config.trust
    ) as mitz:
        for label in ("consent", "no_consent"):
            patient = Bsn(patients[label])
            question = ConsentQuestion(
                patient=patient,
                holder_ura=config.participant.ura,
                holder_type=config.participant.provider_type,
                requester_ura=Ura("22222222"),  # the GP practice
                requester_type=ProviderType(asked["requester_provider_type"]),
                professional=ProfessionalId.uzi(asked["professional_uzi"]),
                role=RoleCode(asked["professional_role"]),
                categories=(DataCategory.GGC002, DataCategory.GGC013),
            )
            decision = mitz.check(question)  # Permit or Deny per category; anything else raises
            answers = {c.value: decision.decision(c).value for c in question.categories}
            print(f"patient {patient}: {answers} -> allowed: {decision.allowed()}")
            # Fail closed in one call: any error (timeout, SOAP fault, odd answer) is "not allowed".
            assert is_allowed(mitz, question) == decision.allowed()


if __name__ == "__main__":
    main()
