"""TA Workflow fulfiller: find the Tasks a Placer assigned to our HealthcareService and carry them out.

Run: python examples/workflow_fulfiller.py SANDBOX_DIR
"""

from __future__ import annotations

from _sandbox import TASK_IDENTIFIERS, node_config, place_a_request, sandbox_dir, sandbox_info

from twiin import Ura
from twiin.exchange.workflow import AssignedId
from twiin.node import Node

GP = Ura("22222222")
OUR_SERVICE = AssignedId("https://gp.example.org/healthcareservice", "wound-care", GP)  # Task.owner
WORK = {"coding": [{"system": "http://snomed.info/sct", "code": "225358003", "display": "Wound care"}]}


def main() -> None:
    directory = sandbox_dir()
    placer_url = sandbox_info(directory)["placer"]
    print("placed Task:", place_a_request(directory, OUR_SERVICE, WORK))  # so that there is work to do

    with Node.from_file(node_config(directory, "gp")) as node:
        fulfiller = node.workflow.fulfiller(placer_url, owner=OUR_SERVICE)
        done_ids: list[str] = []
        for new in fulfiller.tasks(status="requested"):  # Task?owner:identifier=<our service>
            print("new Task:", new.id, "version", new.version_id, "focus", new.resource["focus"]["reference"])
            accepted = fulfiller.accept(new)  # every update is version-aware (If-Match), retried on 412
            started = fulfiller.start(accepted)
            report = [{"type": {"text": "report"}, "valueString": "wound healed"}]
            done = fulfiller.complete(started, outputs=report)
            print("done:", done.resource["status"], "version", done.version_id)
            done_ids.append(done.id)

    with Node.from_file(node_config(directory, "placer")) as node:  # the Placer sees the outcome
        placer = node.workflow.placer(placer_url, identifier_system=TASK_IDENTIFIERS)
        for task_id in done_ids:
            task = placer.read("Task", task_id).resource
            outputs = [output["valueString"] for output in task["output"]]
            print(f"placer sees Task {task_id}: {task['status']}, output {outputs}")


if __name__ == "__main__":
    main()
