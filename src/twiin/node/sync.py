"""``Node``: a GtK composed from one TOML configuration (synchronous)."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from twiin._http.compat import httpx
from twiin.addressing import PayloadType
from twiin.config import TwiinConfig
from twiin.consent import LocalConsentRegister, MitzClient
from twiin.fhir import FhirClient, FhirVersion
from twiin.identifiers import Ura
from twiin.node.base import NodeBase, is_url
from twiin.node.facades import Notifications, NotifiedPull, Workflow
from twiin.node.loading import load_node_config
from twiin.node.parts import Resolver, sync_consent, sync_directory
from twiin.node.push_pull import Pull, Push
from twiin.settings import NodeSettings

__all__ = ["Node"]

T = TypeVar("T")


def _close(obj: object) -> None:
    """Close ``obj`` (and a directory cache's store) when it can be closed."""
    store = getattr(obj, "store", None)
    for item in (obj, store):
        close = getattr(item, "close", None)
        if callable(close):
            close()


class Node(NodeBase):
    """Our participant, credentials, trust anchors, addressing, consent, tokens and audit.

        with twiin.Node.from_file("node.toml") as node:
            receipt = node.notified_pull.notify(Ura("22222222"), Bsn("999999151"), bgz.QUERIES)

    Loading fails with :class:`~twiin.errors.ConfigurationError` naming the setting when the
    configuration cannot work. Parts are built on first use and closed by :meth:`close`.
    """

    @classmethod
    def from_file(cls, path: str | Path, environ: Mapping[str, str] | None = None) -> Node:
        """Load and verify ``path`` (``TWIIN_<SECTION>_<KEY>`` variables override)."""
        return cls(*load_node_config(path, environ))

    def __init__(self, config: TwiinConfig, settings: NodeSettings) -> None:
        super().__init__(config, settings)
        self._closing: list[object] = []

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every client and store this node opened, newest first (idempotent).

        One part failing to close does not leave the others open; its error is raised afterwards.
        """
        opened, self._closing = self._closing, []
        with ExitStack() as stack:
            for obj in opened:
                stack.callback(_close, obj)

    def _own(self, obj: T) -> T:
        self._closing.append(obj)
        return obj

    @cached_property
    def directory(self) -> Resolver:
        """The address resolver ``[addressing]`` names."""
        return self._own(sync_directory(self))

    @cached_property
    def consent(self) -> LocalConsentRegister | MitzClient:
        """The consent checker ``[consent]`` names."""
        return self._own(sync_consent(self))

    @cached_property
    def notified_pull(self) -> NotifiedPull:
        """TA Notified Pull (sender notify, receiver accept and pull, server blocks)."""
        return self._own(NotifiedPull(self))

    @cached_property
    def notifications(self) -> Notifications:
        """TA Notifications (subscription clients, rest-hook receiver)."""
        return self._own(Notifications(self))

    @cached_property
    def workflow(self) -> Workflow:
        """TA Workflow (Placer, Fulfiller)."""
        return self._own(Workflow(self))

    @cached_property
    def push(self) -> Push:
        """Push: ``node.push.send(receiver, bundle, payload_type, patient=bsn)`` (consent first)."""
        return self._own(Push(self))

    @cached_property
    def pull(self) -> Pull:
        """Direct Pull: ``node.pull.query(holder, bsn, bgz.QUERIES)`` (consent first)."""
        return self._own(Pull(self))

    def resolve_base(
        self, ura_or_url: Ura | str, payload_type: PayloadType | str | None, version: FhirVersion | None
    ) -> tuple[str, FhirVersion]:
        """A FHIR base URL and version: the URL itself, or the first directory match for the URA."""
        if is_url(ura_or_url):
            return str(ura_or_url), self.url_version(str(ura_or_url), version)
        found = self.directory.resolve(ura_or_url, self.payload(payload_type), fhir_version=version)
        return found[0].address, version or found[0].fhir_version or FhirVersion.R4

    def fhir(
        self,
        ura_or_url: Ura | str,
        *,
        payload_type: PayloadType | str | None = None,
        version: FhirVersion | None = None,
        auth: httpx.Auth | None = None,
        raw: bool = False,
    ) -> FhirClient:
        """A FHIR client over mTLS for a URL, or for a URA resolved with ``payload_type``.

        The caller owns (closes) the client; ``auth`` is typically ``node.token_auth(...)``.
        """
        base, fhir_version = self.resolve_base(ura_or_url, payload_type, version)
        return FhirClient(base, fhir_version, auth=auth, raw=raw, **self.client_options(base))
