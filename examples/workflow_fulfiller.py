"""TA Workflow fulfiller: find the Tasks a Placer assigned to our HealthcareService and carry them out.

Run: python examples/workflow_fulfiller.py SANDBOX_DIR
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from _sandbox import node_config, sandbox_dir, sandbox_info

from twiin import Bsn, Ura
from twiin.exchange.workflow import AssignedId, Invitation, service_request
from twiin.node import Node

GP = Ura("22222222")
OUR_SERVICE = AssignedId("https://gp.example.org/healthcareservice", "wound-care", GP)  # Task.owner
WORK = {"coding": [{"system": "http://snomed.info/sct", "code": "225358003", "display": "Wound care"}]}


def place_a_request(directory: Path, placer_url: str) -> None:
    """The Placer's half, so that there is something to do: a request with one Task for us."""
    bsn = Bsn(sandbox_info(directory)["patients"]["consent"])
    with Node.from_file(node_config(directory, "placer")) as node:
        with node.fhir(placer_url) as fhir:  # the Placer's own Patient resource for this BSN
            found = fhir.search("Patient", {"identifier": bsn.to_token()}).json or {}
        patient_id = found["entry"][0]["resource"]["id"]
        request = service_request(
            patient=f"Patient/{patient_id}", instantiates="https://example.org/ActivityDefinition/wound-care",
            code=WORK, authored_on=datetime.now(UTC), requester=node.ura,
        )  # fmt: skip
        placer = node.workflow.placer(placer_url, identifier_system="https://placer.example.org/task")
        placer.create_request(request, [Invitation(OUR_SERVICE)], type_of_work=WORK)


def main() -> None:
    directory = sandbox_dir()
    placer_url = sandbox_info(directory)["placer"]
    place_a_request(directory, placer_url)

    with Node.from_file(node_config(directory, "gp")) as node:
        fulfiller = node.workflow.fulfiller(placer_url, owner=OUR_SERVICE)
        for new in fulfiller.tasks(status="requested"):  # Task?owner:identifier=<our service>
            print("new Task:", new.id, "version", new.version_id, "focus", new.resource["focus"]["reference"])
            accepted = fulfiller.accept(new)  # every update is version-aware (If-Match), retried on 412
            started = fulfiller.start(accepted)
            report = [{"type": {"text": "report"}, "valueString": "wound healed"}]
            done = fulfiller.complete(started, outputs=report)
            print("done:", done.resource["status"], "version", done.version_id)


if __name__ == "__main__":
    main()
