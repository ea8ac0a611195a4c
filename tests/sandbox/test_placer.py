"""The sandbox's R4 placer over mTLS: a TA Workflow round trip, and Task writes vetted per certificate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from twiin._http import client_ssl_context
from twiin.credentials import Credentials, TrustAnchors
from twiin.errors import NotAuthorizedError
from twiin.exchange.workflow import AssignedId, Fulfiller, Invitation, Placer, service_request
from twiin.fhir import FhirClient, FhirVersion
from twiin.sandbox import GP, PLACER, Sandbox
from twiin.sandbox.network import PLACER_PATIENT_ID

pytestmark = pytest.mark.e2e

WORK = {"coding": [{"system": "http://snomed.info/sct", "code": "308292007"}]}
GP_SERVICE = AssignedId("https://gp.sandbox.test/healthcareservice", "huisarts", GP.ura)


def _client(sandbox: Sandbox, party: str, trust: TrustAnchors) -> FhirClient:
    folder = sandbox.dir / party
    creds = Credentials.from_pem_files(folder / "cert.pem", folder / "key.pem")
    return FhirClient(sandbox.info["placer"], FhirVersion.R4, ssl_context=client_ssl_context(creds, trust))


def test_workflow_round_trip_at_the_placer(sandbox: Sandbox, trust: TrustAnchors) -> None:
    request = service_request(
        patient=f"Patient/{PLACER_PATIENT_ID}",
        instantiates="https://example.org/fhir/ActivityDefinition/transfer-of-care",
        code=WORK,
        authored_on=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        requester=PLACER.ura,
        identifier_system="https://placer.sandbox.test/servicerequest",
    )
    with (
        _client(sandbox, "placer", trust) as placer_http,
        _client(sandbox, "gp", trust) as gp_http,
        _client(sandbox, "hospital", trust) as hospital_http,
    ):
        placer = Placer(placer_http, ura=PLACER.ura, identifier_system="https://placer.sandbox.test/task")
        created = placer.create_request(request, [Invitation(GP_SERVICE)], type_of_work=WORK)
        (task,) = created.tasks
        impostor = Fulfiller(hospital_http, owner=GP_SERVICE)  # claims the GP's service, has its own cert
        with pytest.raises(NotAuthorizedError):  # the placer goes by the certificate's URA
            impostor.reject(task.id, "not mine")
        gp = Fulfiller(gp_http, owner=GP_SERVICE)
        (mine,) = gp.tasks(status="requested")
        assert mine.id == task.id
        done = gp.complete(gp.start(gp.accept(mine)).id)
    stored = sandbox.placer_store.current("Task", task.id)
    assert stored is not None
    assert stored.resource is not None
    assert stored.resource["status"] == "completed"
    assert done.version_id == stored.version_id
