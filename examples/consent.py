"""Consent: ask Mitz the closed question "may this requester get this patient's data from us?".

Run: python examples/consent.py SANDBOX_DIR
"""

from __future__ import annotations

from _sandbox import node_config, sandbox_dir, sandbox_info

from twiin import Bsn, Ura
from twiin.consent import ConsentQuestion, DataCategory, is_allowed
from twiin.node import Node


def main() -> None:
    directory = sandbox_dir()
    patients = sandbox_info(directory)["patients"]
    with Node.from_file(node_config(directory, "hospital")) as node:  # we hold the data
        asked = node.settings.consent  # [consent]: who asks (professional, role, requester type)
        for label in ("consent", "no_consent"):
            patient = Bsn(patients[label])
            question = ConsentQuestion(
                patient=patient,
                holder_ura=node.ura,
                holder_type=asked.holder_provider_type,
                requester_ura=Ura("22222222"),  # the GP practice
                requester_type=asked.requester_provider_type,
                professional=node.professional(),
                role=asked.professional_role,
                categories=(DataCategory.GGC002, DataCategory.GGC013),
            )
            decision = node.consent.check(question)  # Permit or Deny per category; anything else raises
            answers = {c.value: decision.decision(c).value for c in question.categories}
            print(f"patient {patient}: {answers} -> allowed: {decision.allowed()}")
            # Fail closed in one call: any error (timeout, SOAP fault, odd answer) is "not allowed".
            print("  is_allowed:", is_allowed(node.consent, question))


if __name__ == "__main__":
    main()
