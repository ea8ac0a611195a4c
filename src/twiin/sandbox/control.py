"""The sandbox's control route: make the sandbox hospital notify the GP on demand.

The running sandbox serves ``POST <control>/notify`` (``sandbox.json`` ``"control"``) over mTLS.
It answers only a client presenting exactly the control certificate the sandbox wrote to
``DIR/control/`` (a certificate of the sandbox's own test PKI); any other certificate gets 403.
The body ``{"patient": "consent" | "no-consent"}`` picks the test patient; the hospital then
issues an authorization base and sends a BgZ Notification Task to wherever the directory lists
the GP's notification endpoint (the vendor's, when the GP is external). The answer is a summary
of the receipt (:func:`receipt_summary`): never the BSN nor the authorization base's value.

:func:`request_notify` is the client side (``twiin sandbox notify`` and the examples use it).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from twiin._http import client_ssl_context, create_client
from twiin._http.compat import httpx
from twiin.config import RetryPolicy
from twiin.credentials import Credentials, TrustAnchors
from twiin.errors import ConfigurationError, ExchangeError, TransportError, TwiinError
from twiin.exchange.notified_pull import Receipt
from twiin.identifiers import Bsn
from twiin.redaction import redact
from twiin.sandbox.participants import NO_CONSENT, WITH_CONSENT
from twiin.serving import Answer, IncomingRequest
from twiin.testing.pki import IssuedCertificate

__all__ = ["CONTROL_FOLDER", "PATIENTS", "ControlRoute", "receipt_summary", "request_notify"]

CONTROL_FOLDER = "control"
"""``DIR/control/``: the control client's cert.pem and key.pem."""
PATIENTS: dict[str, Bsn] = {"consent": WITH_CONSENT, "no-consent": NO_CONSENT}
"""The patient names the control route accepts."""


def receipt_summary(receipt: Receipt) -> dict[str, Any]:
    """What a receipt may show outside the sandbox: no BSN, no authorization base value."""
    task, base = receipt.task, receipt.authorization_base
    return {
        "receiver": receipt.receiver.value,
        "endpoint": receipt.endpoint,
        "status": receipt.status,
        "location": receipt.location,
        "task": task.identifier,
        "group": task.group_identifier,
        "patient": task.patient.masked if task.patient is not None else None,
        "queries": len(task.queries),
        "authorization_base": base.id,
        "expires_at": base.expires_at.isoformat(),
    }


class ControlRoute:
    """``IncomingRequest -> Answer`` for the control route; ``notify`` sends for one patient."""

    def __init__(self, client: IssuedCertificate, notify: Callable[[Bsn], Receipt]) -> None:
        self._allowed = client.certificate.public_bytes(serialization.Encoding.DER)
        self._notify = notify

    def __call__(self, request: IncomingRequest) -> Answer:
        peer = request.peer_certificate
        der = peer.public_bytes(serialization.Encoding.DER) if peer is not None else b""
        if not hmac.compare_digest(der, self._allowed):
            refusal = {"error": "forbidden", "message": "only the sandbox's control certificate"}
            return Answer.json(403, refusal)
        if not request.path.rstrip("/").endswith("/notify"):
            return Answer.json(404, {"error": "not-found", "message": "the control route has only /notify"})
        if request.method != "POST":
            return Answer.json(405, {"error": "method-not-allowed", "message": "POST only"}, allow="POST")
        try:
            body = json.loads(request.body or b"{}")
            name = body.get("patient", "consent") if isinstance(body, dict) else None
        except ValueError:
            name = None
        patient = PATIENTS.get(name) if isinstance(name, str) else None
        if patient is None:
            choices = " or ".join(PATIENTS)
            return Answer.json(400, {"error": "bad-request", "message": f"patient must be {choices}"})
        try:
            receipt = self._notify(patient)
        except TwiinError as exc:
            return Answer.json(502, {"error": type(exc).__name__, "message": redact(str(exc))})
        return Answer.json(200, receipt_summary(receipt))


def _load(directory: Path) -> tuple[str, Credentials, TrustAnchors]:
    info_path = directory / "sandbox.json"
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
        url = info["control"]
        folder = directory / CONTROL_FOLDER
        creds = Credentials.from_pem_files(folder / "cert.pem", folder / "key.pem")
        trust = TrustAnchors.from_pem_file(directory / "ca.pem")
    except (OSError, ValueError, KeyError, TypeError):
        problem = f"{directory} is not a sandbox directory (start one: twiin sandbox --dir DIR)"
        raise ConfigurationError("sandbox", problem) from None
    return str(url), creds, trust


def request_notify(
    directory: str | Path, patient: str = "consent", *, timeout: float = 60.0
) -> dict[str, Any]:
    """Ask the sandbox running in ``directory`` to notify the GP; returns the receipt summary.

    Raises :class:`ConfigurationError` when ``directory`` holds no (running) sandbox or
    ``patient`` is not ``"consent"``/``"no-consent"``, and :class:`ExchangeError` when the
    hospital could not deliver the notification (the GP refused it or is unreachable).
    """
    if patient not in PATIENTS:
        raise ConfigurationError("patient", f"must be {' or '.join(PATIENTS)}")
    url, creds, trust = _load(Path(directory))
    context = client_ssl_context(creds, trust)
    try:
        with create_client(ssl_context=context, retry=RetryPolicy.disabled()) as client:
            answer = client.post(f"{url}/notify", json={"patient": patient}, timeout=timeout)
    except TransportError as exc:
        raise ConfigurationError("sandbox", f"no sandbox answers at {url}: {exc.message}") from None
    except httpx.TransportError:
        raise ConfigurationError("sandbox", f"no sandbox answers at {url}") from None
    try:
        payload = answer.json()
    except ValueError:
        payload = {}
    if answer.status_code != 200:
        message = payload.get("message", "") if isinstance(payload, dict) else ""
        error = payload.get("error", "") if isinstance(payload, dict) else ""
        status = f"HTTP {answer.status_code} {error}".strip()
        raise ExchangeError(f"the sandbox hospital could not notify the GP ({status}): {message}")
    return payload  # type: ignore[no-any-return]
