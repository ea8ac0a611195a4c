"""Shared values for the Push and Pull unit tests: parties, an address book, a static token."""

from __future__ import annotations

import pytest

from twiin._http.compat import httpx
from twiin.addressing import StaticAddressBook, payload_types
from twiin.audit import Auditor, MemorySink, Pseudonymizer
from twiin.identifiers import Bsn, Ura

US = Ura("11111111")
PEER = Ura("22222222")
PATIENT = Bsn("999999151")
PEER_BASE = "https://peer.example/fhir"
PUSH_PAYLOAD = "example-push-receiver"
TOKEN = "static-test-token-abc"


class StaticBearer(httpx.Auth):
    """Puts a fixed bearer token on every request and counts its uses."""

    def __init__(self) -> None:
        self.uses = 0

    def auth_flow(self, request):
        self.uses += 1
        request.headers["Authorization"] = f"Bearer {TOKEN}"
        yield request


def address_book() -> StaticAddressBook:
    return StaticAddressBook({"organization": [{"ura": PEER.value, "endpoint": [
        {"address": PEER_BASE, "payload_types": [PUSH_PAYLOAD, payload_types.BGZ_SERVER.code]},
    ]}]})  # fmt: skip


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def auditor(sink) -> Auditor:
    return Auditor(sink, Pseudonymizer(b"unit-test-pseudonym-key-0123"), "our-gtk", US)


def fhir_response(status: int, body: dict | None = None, **headers: str) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers={"content-type": "application/fhir+json", **headers})


def outcome(code: str, text: str) -> dict:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code,
                                                           "diagnostics": text}]}  # fmt: skip
