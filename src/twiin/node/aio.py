"""``AsyncNode``: the async twin of :class:`~twiin.node.Node` (same configuration, same checks)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from contextlib import AsyncExitStack
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from twiin._http.compat import httpx
from twiin.addressing import PayloadType
from twiin.config import TwiinConfig
from twiin.consent import AsyncLocalConsentRegister, AsyncMitzClient, LocalConsentRegister, MitzClient
from twiin.fhir import AsyncFhirClient, FhirVersion
from twiin.identifiers import Ura
from twiin.node.afacades import AsyncNotifications, AsyncNotifiedPull, AsyncWorkflow
from twiin.node.apush_pull import AsyncPull, AsyncPush
from twiin.node.base import NodeBase, is_url
from twiin.node.loading import load_node_config
from twiin.node.parts import (
    AsyncResolver,
    Resolver,
    async_consent,
    async_directory,
    sync_consent,
    sync_directory,
)
from twiin.settings import NodeSettings

__all__ = ["AsyncNode"]

T = TypeVar("T")


async def _aclose(obj: object) -> None:
    store = getattr(obj, "store", None)
    register = getattr(obj, "register", None)  # AsyncLocalConsentRegister wraps a sync register
    for item in (obj, store, register):
        close = getattr(item, "close", None)
        if callable(close):
            result = close()
            if inspect.isawaitable(result):
                await result


class AsyncNode(NodeBase):
    """Async node: ``async with AsyncNode.from_file("node.toml") as node: ...``."""

    @classmethod
    def from_file(cls, path: str | Path, environ: Mapping[str, str] | None = None) -> AsyncNode:
        """Load and verify ``path`` (file reading is synchronous and quick)."""
        return cls(*load_node_config(path, environ))

    def __init__(self, config: TwiinConfig, settings: NodeSettings) -> None:
        super().__init__(config, settings)
        self._closing: list[object] = []

    async def __aenter__(self) -> AsyncNode:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every client and store this node opened, newest first (idempotent).

        One part failing to close does not leave the others open; its error is raised afterwards.
        """
        opened, self._closing = self._closing, []
        async with AsyncExitStack() as stack:
            for obj in opened:
                stack.push_async_callback(_aclose, obj)

    def _own(self, obj: T) -> T:
        self._closing.append(obj)
        return obj

    @cached_property
    def directory(self) -> AsyncResolver:
        """The async address resolver ``[addressing]`` names."""
        return self._own(async_directory(self))

    @cached_property
    def sync_directory(self) -> Resolver:
        """A synchronous resolver for the Notified Pull cores."""
        return self._own(sync_directory(self))

    @cached_property
    def consent(self) -> AsyncLocalConsentRegister | AsyncMitzClient:
        """The async consent checker ``[consent]`` names."""
        return self._own(async_consent(self))

    @cached_property
    def sync_consent(self) -> LocalConsentRegister | MitzClient:
        """A synchronous checker for the pull guard: the same local register, or a sync Mitz client."""
        consent = self.consent
        if isinstance(consent, AsyncLocalConsentRegister):
            return consent.register
        return self._own(sync_consent(self))

    @cached_property
    def notified_pull(self) -> AsyncNotifiedPull:
        """Async TA Notified Pull."""
        return self._own(AsyncNotifiedPull(self))

    @cached_property
    def notifications(self) -> AsyncNotifications:
        """Async TA Notifications."""
        return self._own(AsyncNotifications(self))

    @cached_property
    def workflow(self) -> AsyncWorkflow:
        """Async TA Workflow."""
        return self._own(AsyncWorkflow(self))

    @cached_property
    def push(self) -> AsyncPush:
        """Async Push: ``await node.push.send(receiver, bundle, payload_type, patient=bsn)``."""
        return self._own(AsyncPush(self))

    @cached_property
    def pull(self) -> AsyncPull:
        """Async direct Pull: ``await node.pull.query(holder, bsn, queries)``."""
        return self._own(AsyncPull(self))

    async def resolve_base(
        self, ura_or_url: Ura | str, payload_type: PayloadType | str | None, version: FhirVersion | None
    ) -> tuple[str, FhirVersion]:
        """A FHIR base URL and version: the URL itself, or the first directory match for the URA."""
        if is_url(ura_or_url):
            return str(ura_or_url), self.url_version(str(ura_or_url), version)
        found = await self.directory.resolve(ura_or_url, self.payload(payload_type), fhir_version=version)
        return found[0].address, version or found[0].fhir_version or FhirVersion.R4

    async def fhir(
        self,
        ura_or_url: Ura | str,
        *,
        payload_type: PayloadType | str | None = None,
        version: FhirVersion | None = None,
        auth: httpx.Auth | None = None,
        raw: bool = False,
    ) -> AsyncFhirClient:
        """An async FHIR client over mTLS for a URL, or for a URA resolved with ``payload_type``."""
        base, fhir_version = await self.resolve_base(ura_or_url, payload_type, version)
        return AsyncFhirClient(base, fhir_version, auth=auth, raw=raw, **self.client_options(base))
