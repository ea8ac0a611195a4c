"""A TA Workflow Placer FHIR server for tests and the sandbox: an R4 store behind twiin's Task guard.

:class:`PlacerFhirServer` is a server block: every ``POST``/``PUT``/``PATCH`` of a ``Task`` is
vetted by :func:`twiin.exchange.workflow.guard_task_write` for the calling organisation (the
workflow state machine, which elements each party may change, ``If-Match``, the Twiin profile)
before it reaches the :class:`~twiin.testing.fhir_store.FhirStoreServer`. The caller's URA comes
from ``identify``: by default the UZI server certificate it presented over mTLS.
"""

from __future__ import annotations

from collections.abc import Callable

from twiin.auth.uzi import uzi_identity
from twiin.errors import TwiinError
from twiin.exchange.workflow import guard_task_write
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura
from twiin.serving import Answer, IncomingRequest
from twiin.testing.fhir_store import FhirStoreServer, MemoryFhirStore

__all__ = ["PlacerFhirServer", "certificate_ura"]

Identify = Callable[[IncomingRequest], Ura | None]


def certificate_ura(request: IncomingRequest) -> Ura | None:
    """The URA in the caller's UZI server certificate (``None`` without a usable one)."""
    if request.peer_certificate is None:
        return None
    try:
        return uzi_identity(request.peer_certificate).ura
    except TwiinError:
        return None


class PlacerFhirServer:
    """The Placer's R4 FHIR endpoint under ``base_path``; ``store`` holds its Tasks and requests."""

    def __init__(
        self,
        placer_ura: Ura,
        store: MemoryFhirStore | None = None,
        *,
        base_path: str = "/fhir",
        identify: Identify = certificate_ura,
    ) -> None:
        self.placer_ura = placer_ura
        self.store = store if store is not None else MemoryFhirStore()
        self.fhir = FhirStoreServer(self.store, FhirVersion.R4, base_path=base_path)
        self._identify = identify

    def __call__(self, request: IncomingRequest) -> Answer:
        return self.handle(request)

    def handle(self, request: IncomingRequest) -> Answer:
        """Vet Task writes, then answer from the store."""
        refusal = self._vet(request)
        return refusal if refusal is not None else self.fhir.handle(request)

    def _vet(self, request: IncomingRequest) -> Answer | None:
        segs = [p for p in request.path[len(self.fhir.base_path) :].split("/") if p]
        method = request.method.upper()
        if not segs or segs[0] != "Task" or method not in ("POST", "PUT", "PATCH") or len(segs) > 2:
            return None
        caller = self._identify(request)
        if caller is None:
            return Answer.outcome(403, "forbidden", "Task writes need a UZI server certificate naming a URA")
        stored = None
        if method in ("PUT", "PATCH") and len(segs) == 2:
            current = self.store.current("Task", segs[1])
            stored = current.resource if current else None
        return guard_task_write(request, stored=stored, requester_ura=caller, placer_ura=self.placer_ura)
