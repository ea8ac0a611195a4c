"""Where the examples find the sandbox: the first argument or ``TWIIN_SANDBOX_DIR``.

Start one with ``twiin sandbox --dir DIR``; it writes ``DIR/sandbox.json`` and a ready-to-use
``DIR/<participant>/node.toml`` for ``hospital``, ``gp`` and ``placer``. The workflow examples
also play the Placer with :func:`place_a_request`.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twiin import Bsn
from twiin.exchange.workflow import AssignedId, Invitation, service_request
from twiin.node import Node

TASK_IDENTIFIERS = "https://placer.example.org/task"
"""The system of the business identifiers the Placer gives its Tasks."""


def sandbox_dir() -> Path:
    """The sandbox directory named on the command line or in the environment."""
    value = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TWIIN_SANDBOX_DIR", "")
    if not value or not (Path(value) / "sandbox.json").is_file():
        usage = f"usage: python {sys.argv[0]} SANDBOX_DIR (or set TWIIN_SANDBOX_DIR)"
        sys.exit(f"{usage}\nstart a sandbox with: twiin sandbox --dir SANDBOX_DIR")
    return Path(value)


def sandbox_info(directory: Path) -> dict[str, Any]:
    """``sandbox.json``: the directory, Mitz and placer URLs, the participants and the test patients."""
    return json.loads((directory / "sandbox.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def node_config(directory: Path, participant: str) -> Path:
    """The generated ``node.toml`` of ``participant``."""
    return directory / participant / "node.toml"


def place_a_request(directory: Path, owner: AssignedId, work: dict[str, Any]) -> str:
    """The Placer's half, so that there is something to do: a request for the patient with consent
    and one Task for ``owner``; returns the Task's id."""
    bsn = Bsn(sandbox_info(directory)["patients"]["consent"])
    placer_url = sandbox_info(directory)["placer"]
    with Node.from_file(node_config(directory, "placer")) as node:
        with node.fhir(placer_url) as fhir:  # the Placer's own Patient resource for this BSN
            found = fhir.search("Patient", {"identifier": bsn.to_token()}).json or {}
        patient_id = found["entry"][0]["resource"]["id"]
        request = service_request(
            patient=f"Patient/{patient_id}", instantiates="https://example.org/ActivityDefinition/wound-care",
            code=work, authored_on=datetime.now(UTC), requester=node.ura,
        )  # fmt: skip
        placer = node.workflow.placer(placer_url, identifier_system=TASK_IDENTIFIERS)
        (task,) = placer.create_request(request, [Invitation(owner)], type_of_work=work).tasks
        return task.id
