"""A vendor's own GP receiver joins the sandbox: the directory points at it, the trigger notifies it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.vendor import VendorGp, free_port, vendor_gp
from twiin._http import client_ssl_context, create_client
from twiin.addressing import payload_types as pt
from twiin.credentials import Credentials, TrustAnchors
from twiin.errors import ConfigurationError, ExchangeError, NotAuthorizedError
from twiin.sandbox import GP, HOSPITAL, NO_CONSENT, WITH_CONSENT, Sandbox
from twiin.sandbox.control import request_notify

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory, port: int) -> Iterator[tuple[Sandbox, VendorGp]]:
    folder = tmp_path_factory.mktemp("joined")
    with Sandbox(folder, external={"gp": f"https://127.0.0.1:{port}/fhir"}) as box:
        with vendor_gp(str(box.config_path("gp")), port) as vendor:
            yield box, vendor


def test_the_directory_lists_the_vendors_task_endpoint(joined: tuple[Sandbox, VendorGp], port: int) -> None:
    box, vendor = joined
    url = f"https://127.0.0.1:{port}/fhir"
    [endpoint] = vendor.node.directory.resolve(GP.ura, pt.TWIIN_TA_NOTIFICATION)
    assert endpoint.address == url
    assert box.info["participants"]["gp"]["fhir_base"] == url
    assert box.info["external"] == {"gp": url}
    assert vendor.node.settings.server.fhir_base == url
    assert (box.dir / "gp" / "key.pem").is_file()


def test_the_vendor_receives_the_notification_and_pulls_everything(joined: tuple[Sandbox, VendorGp]) -> None:
    box, vendor = joined
    before = len(box.accepted)
    summary = request_notify(box.dir, "consent")
    assert summary["status"] == 201
    assert summary["queries"] == 29
    assert summary["patient"] == WITH_CONSENT.masked
    assert WITH_CONSENT.value not in str(summary)
    notification = vendor.accepted[-1]
    assert notification.task.identifier == summary["task"]
    assert notification.sender == HOSPITAL.ura
    assert len(box.accepted) == before  # the sandbox's own GP endpoint saw nothing
    result = vendor.node.notified_pull.pull(notification)
    assert len(result.results) == 29
    assert not result.failures
    assert all(query.ok for query in result.results)
    assert len(result.resources("Condition")) == 60


def test_the_no_consent_pull_is_refused(joined: tuple[Sandbox, VendorGp]) -> None:
    box, vendor = joined
    receipt = box.notify_gp(NO_CONSENT)
    assert receipt.status == 201
    notification = vendor.accepted[-1]
    assert notification.task.identifier == receipt.task.identifier
    result = vendor.node.notified_pull.pull(notification)
    assert result.resources() == []
    assert len(result.failures) == 29
    assert all(isinstance(query.error, NotAuthorizedError) for query in result.failures)


def test_a_refused_notification_is_reported(tmp_path: Path) -> None:
    port = free_port()  # nobody listens: the hospital cannot deliver
    with Sandbox(tmp_path / "box", external={"gp": f"https://localhost:{port}/fhir"}) as box:
        with pytest.raises(ExchangeError, match="could not notify the GP"):
            request_notify(box.dir)


@pytest.mark.parametrize(
    ("external", "message"),
    [
        ({"gp": "http://127.0.0.1:8443/fhir"}, "must be an https URL"),
        ({"gp": "https://example.org:8443/fhir"}, "on 127.0.0.1 or localhost"),
        ({"gp": "https://127.0.0.1/fhir"}, "explicit port"),
        ({"gp": "https://127.0.0.1:99999/fhir"}, "not a valid URL"),
        ({"gp": "https://user:pw@127.0.0.1:8443/fhir"}, "plain FHIR base URL"),
        ({"pharmacy": "https://127.0.0.1:8443/fhir"}, "unknown sandbox participant 'pharmacy'"),
        ({"hospital": "https://127.0.0.1:8443/fhir"}, "'hospital' cannot be external yet"),
    ],
)
def test_invalid_external_parties_are_refused(external: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Sandbox(tmp_path, external=external)
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_the_control_route_refuses_other_certificates(joined: tuple[Sandbox, VendorGp]) -> None:
    box, vendor = joined
    with create_client(ssl_context=vendor.node.ssl_context()) as client:  # the GP's own certificate
        answer = client.post(box.info["control"] + "/notify", json={"patient": "consent"})
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"


def test_request_notify_needs_a_sandbox_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a sandbox directory"):
        request_notify(tmp_path)
    with pytest.raises(ConfigurationError, match="patient: must be consent or no-consent"):
        request_notify(tmp_path, "someone")


def test_the_control_route_answers_only_notify_with_a_known_patient(joined: tuple[Sandbox, VendorGp]) -> None:
    box, _ = joined
    control = box.dir / "control"
    creds = Credentials.from_pem_files(control / "cert.pem", control / "key.pem")
    context = client_ssl_context(creds, TrustAnchors.from_pem_file(box.dir / "ca.pem"))
    url = box.info["control"]
    with create_client(ssl_context=context) as client:
        assert client.post(f"{url}/notify", json={"patient": WITH_CONSENT.value}).status_code == 400
        assert client.post(f"{url}/notify", content=b"not json").status_code == 400
        assert client.get(f"{url}/notify").status_code == 405
        assert client.post(f"{url}/cancel", json={}).status_code == 404
    assert (control / "key.pem").stat().st_mode & 0o077 == 0
