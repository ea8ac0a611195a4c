"""Push a transaction Bundle to a peer GtK, then pull a patient's BgZ data from it (direct query).

Everything runs on loopback mTLS: the peer from ``twiin.testing.push_pull`` has a token endpoint,
an R4 push receiver and an STU3 BgZ server. Consent is asked before the pull sends anything.

Run: python examples/push_pull.py
"""

from twiin._http import create_client
from twiin.exchange.pull import DirectPullCore, DirectPuller
from twiin.exchange.push import PushCore, Pusher
from twiin.fhir import BundleBuilder, FhirVersion
from twiin.testing.push_pull import OTHER_PATIENT, PATIENT, PEER, PUSH_PAYLOAD, US, PushPullNetwork
from twiin.usecases import bgz


def main() -> None:
    with PushPullNetwork() as net:
        builder = BundleBuilder("transaction", FhirVersion.R4)
        patient = builder.create({"resourceType": "Patient", "identifier": [PATIENT.to_dict()]})
        builder.create({"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
                        "subject": {"reference": patient}})  # fmt: skip
        push = PushCore(US, net.address_book, auth_for=net.auth_for, consent=net.consent_check())
        with Pusher(push, client=create_client(ssl_context=net.tls)) as pusher:
            receipt = pusher.push(PEER, builder, PUSH_PAYLOAD, patient=PATIENT)
        print(f"push: HTTP {receipt.status}, entries {[e.status for e in receipt.entries]}, "
              f"Patient stored as {receipt.by_full_url(patient).id}")  # fmt: skip

        pull = DirectPullCore(US, net.address_book, net.consent_check(), auth_for=net.auth_for)
        with DirectPuller(pull, client=create_client(ssl_context=net.tls)) as puller:
            result = puller.pull(PEER, PATIENT, bgz.QUERIES)
            conditions = len(result.resources("Condition"))
            print(f"pull: {len(result.results)} queries, ok={result.ok}, "
                  f"{len(result.resources())} resources, {conditions} conditions")  # fmt: skip
            before = net.fhir_requests
            refused = puller.pull(PEER, OTHER_PATIENT, bgz.QUERIES)
            sent = net.fhir_requests - before
            print(f"pull without consent: denied={refused.denied}, requests sent: {sent}")


if __name__ == "__main__":
    main()
