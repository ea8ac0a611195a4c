"""Rest-hook Subscription delivery by the Medplum peer (criteria matching is Medplum's; the POST is the adapter's)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from twiin.fhir import FhirClient, FhirVersion, parse_resource

pytestmark = pytest.mark.peer


@pytest.fixture
def receiver() -> Iterator[tuple[str, queue.Queue[tuple[dict[str, str], bytes]]]]:
    received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received.put(({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_rest_hook_delivers_matching_task(
    fhir: FhirClient, tag: str, receiver: tuple[str, queue.Queue]
) -> None:
    url, received = receiver
    fhir.create(
        {
            "resourceType": "Subscription",
            "status": "active",
            "reason": "interop test",
            "criteria": f"Task?identifier=urn:twiin:test|{tag}",
            "channel": {
                "type": "rest-hook",
                "endpoint": url,
                "payload": "application/fhir+json",
                "header": ["Authorization: Bearer test-token"],
            },
        }
    )
    fhir.create({"resourceType": "Task", "status": "draft", "intent": "order"})  # not matching
    created = fhir.create(
        {
            "resourceType": "Task",
            "status": "requested",
            "intent": "order",
            "identifier": [{"system": "urn:twiin:test", "value": tag}],
        }
    )
    headers, body = received.get(timeout=10)
    assert headers["authorization"] == "Bearer test-token"
    assert headers["content-type"].startswith("application/fhir+json")
    task = parse_resource(body, FhirVersion.R4)
    assert task.id == created.id
    with pytest.raises(queue.Empty):
        received.get(timeout=0.5)
