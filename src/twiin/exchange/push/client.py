"""Push facades: :class:`Pusher` (sync) and :class:`AsyncPusher` over one :class:`PushCore`.

``push(receiver, bundle, payload_type)`` resolves the receiver's endpoint, POSTs the Bundle
over the facade's (mTLS) client with the receiver's token auth, audits, and returns a
:class:`~twiin.exchange.push.core.PushReceipt`; every failure is audited and raised typed.
"""

from __future__ import annotations

from typing import Any

import anyio

from twiin._http.compat import httpx
from twiin._http.holder import AsyncClientHolder, ClientHolder
from twiin.addressing import PayloadType
from twiin.errors import TwiinError
from twiin.exchange.push.core import PushCore, PushPlan, PushReceipt
from twiin.fhir import AsyncFhirClient, FhirClient
from twiin.identifiers import Bsn, Ura

__all__ = ["AsyncPusher", "Pusher"]


class Pusher(ClientHolder):
    """Synchronous Push facade; owns its HTTP client unless one is given."""

    def __init__(self, core: PushCore, *, client: httpx.Client | None = None, **client_options: Any) -> None:
        self.core = core
        super().__init__(client, client_options)

    def push(
        self, receiver: Ura, bundle: Any, payload_type: PayloadType | str, *, patient: Bsn | None = None
    ) -> PushReceipt:
        """POST a transaction, batch or message Bundle to ``receiver`` (``patient``: audit and consent)."""
        plan: PushPlan | None = None
        try:
            plan = self.core.plan(receiver, bundle, payload_type, patient)
            fhir = FhirClient(plan.endpoint.address, plan.version, client=self._client, auth=plan.auth)
            receipt = plan.call.parse(fhir.exchange(plan.call.request))
        except TwiinError as exc:
            self.core.audit_failure(receiver, plan, exc, patient)
            raise
        return self.core.audit_success(plan, receipt, patient)


class AsyncPusher(AsyncClientHolder):
    """Asynchronous Push facade (same methods as :class:`Pusher`)."""

    def __init__(
        self, core: PushCore, *, client: httpx.AsyncClient | None = None, **client_options: Any
    ) -> None:
        self.core = core
        super().__init__(client, client_options)

    async def push(
        self, receiver: Ura, bundle: Any, payload_type: PayloadType | str, *, patient: Bsn | None = None
    ) -> PushReceipt:
        """POST a transaction, batch or message Bundle to ``receiver`` (``patient``: audit and consent)."""
        plan: PushPlan | None = None
        try:
            # the consent check and the resolver may block: keep them off the event loop
            plan = await anyio.to_thread.run_sync(self.core.plan, receiver, bundle, payload_type, patient)
            fhir = AsyncFhirClient(plan.endpoint.address, plan.version, client=self._client, auth=plan.auth)
            receipt = plan.call.parse(await fhir.exchange(plan.call.request))
        except TwiinError as exc:
            self.core.audit_failure(receiver, plan, exc, patient)
            raise
        return self.core.audit_success(plan, receipt, patient)
