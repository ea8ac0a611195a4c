"""The sans-I/O engine shared by the sync and async facades.

Workflow operations are generators that *yield* request steps (:class:`Read`, :class:`Create`,
:class:`Update`, :class:`Search`, :class:`Transaction`) and receive their results; errors from the
server are thrown back into the generator so an operation can, for instance, catch a 412 and
re-read. :func:`run` and :func:`arun` drive one operation against a sync or async backend.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from twiin.errors import ExchangeError, TwiinError

__all__ = [
    "AsyncBackend",
    "Backend",
    "Create",
    "Observer",
    "Operation",
    "Patch",
    "Read",
    "Search",
    "Step",
    "Transaction",
    "Update",
    "Versioned",
    "arun",
    "run",
]

T = TypeVar("T")


@attrs.frozen
class Versioned:
    """A resource as read from the server, with the version its ``If-Match`` must name."""

    resource: dict[str, Any]
    version_id: str | None = None

    @property
    def id(self) -> str:
        """The logical id (``ExchangeError`` when the server gave none)."""
        value = self.resource.get("id")
        if not isinstance(value, str) or not value:
            raise ExchangeError("the server returned a resource without id")
        return value

    @property
    def status(self) -> str | None:
        """``status`` of the resource, if any."""
        value = self.resource.get("status")
        return value if isinstance(value, str) else None

    @property
    def reference(self) -> str:
        """``<type>/<id>``."""
        return f"{self.resource.get('resourceType')}/{self.id}"

    @classmethod
    def of(cls, resource: Mapping[str, Any], version_id: str | None = None) -> Versioned:
        """Wrap ``resource``; the version falls back to ``meta.versionId``."""
        if version_id is None:
            meta = resource.get("meta")
            found = meta.get("versionId") if isinstance(meta, Mapping) else None
            version_id = found if isinstance(found, str) else None
        return cls(dict(resource), version_id)


@attrs.frozen
class Read:
    """``GET [base]/<type>/<id>`` -> :class:`Versioned`."""

    resource_type: str
    resource_id: str


@attrs.frozen
class Create:
    """``POST [base]/<type>`` (conditional with ``If-None-Exist``) -> :class:`Versioned`."""

    resource: dict[str, Any]
    if_none_exist: str | None = None


@attrs.frozen
class Update:
    """``PUT [base]/<type>/<id>`` with ``If-Match: W/"<version_id>"`` -> :class:`Versioned`."""

    resource: dict[str, Any]
    version_id: str | None


@attrs.frozen
class Patch:
    """``PATCH [base]/<type>/<id>`` (JSON Patch) with ``If-Match`` -> :class:`Versioned`."""

    resource_type: str
    resource_id: str
    operations: tuple[dict[str, Any], ...]
    version_id: str | None


@attrs.frozen
class Search:
    """``GET [base]/<type>?params`` following every page -> ``list[Versioned]`` (match entries)."""

    resource_type: str
    params: tuple[tuple[str, str], ...]


@attrs.frozen
class Transaction:
    """``POST [base]`` with a transaction Bundle -> the response Bundle as a dict."""

    bundle: dict[str, Any]


Step = Read | Create | Update | Patch | Search | Transaction
Operation = Generator[Step, Any, T]


class Backend(Protocol):
    """What the workflow needs from a FHIR R4 client (see ``twiin.exchange.workflow.fhir_backend``)."""

    def read(self, resource_type: str, resource_id: str) -> Versioned: ...
    def create(self, resource: dict[str, Any], if_none_exist: str | None) -> Versioned: ...
    def update(self, resource: dict[str, Any], version_id: str | None) -> Versioned: ...
    def patch(
        self,
        resource_type: str,
        resource_id: str,
        operations: Sequence[dict[str, Any]],
        version_id: str | None,
    ) -> Versioned: ...
    def search(self, resource_type: str, params: Sequence[tuple[str, str]]) -> list[Versioned]: ...
    def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]: ...


class AsyncBackend(Protocol):
    """The async counterpart of :class:`Backend`."""

    async def read(self, resource_type: str, resource_id: str) -> Versioned: ...
    async def create(self, resource: dict[str, Any], if_none_exist: str | None) -> Versioned: ...
    async def update(self, resource: dict[str, Any], version_id: str | None) -> Versioned: ...
    async def patch(
        self,
        resource_type: str,
        resource_id: str,
        operations: Sequence[dict[str, Any]],
        version_id: str | None,
    ) -> Versioned: ...
    async def search(self, resource_type: str, params: Sequence[tuple[str, str]]) -> list[Versioned]: ...
    async def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]: ...


def _call(backend: Any, step: Step) -> Any:
    """The backend call for ``step`` (a value for sync backends, an awaitable for async ones)."""
    match step:
        case Read(resource_type, resource_id):
            return backend.read(resource_type, resource_id)
        case Create(resource, if_none_exist):
            return backend.create(resource, if_none_exist)
        case Update(resource, version_id):
            return backend.update(resource, version_id)
        case Patch(resource_type, resource_id, operations, version_id):
            return backend.patch(resource_type, resource_id, list(operations), version_id)
        case Search(resource_type, params):
            return backend.search(resource_type, params)
        case Transaction(bundle):
            return backend.transaction(bundle)
    raise ExchangeError(f"unknown workflow step {type(step).__name__}")  # pragma: no cover


#: Called after every step with the step, its result (or ``None``) and the error (or ``None``).
Observer = Callable[[Step, Any, TwiinError | None], None]


def _noop(step: Step, value: Any, error: TwiinError | None) -> None:
    return None


def run(operation: Operation[T], backend: Backend, observer: Observer = _noop) -> T:
    """Drive ``operation`` to completion against a sync ``backend``."""
    value: Any = None
    try:
        step = next(operation)
        while True:
            try:
                value = _call(backend, step)
            except TwiinError as exc:
                observer(step, None, exc)
                step = operation.throw(exc)
                continue
            observer(step, value, None)
            step = operation.send(value)
    except StopIteration as stop:
        result: T = stop.value
        return result


async def arun(operation: Operation[T], backend: AsyncBackend, observer: Observer = _noop) -> T:
    """Drive ``operation`` to completion against an async ``backend``."""
    value: Any = None
    try:
        step = next(operation)
        while True:
            try:
                value = await _call(backend, step)
            except TwiinError as exc:
                observer(step, None, exc)
                step = operation.throw(exc)
                continue
            observer(step, value, None)
            step = operation.send(value)
    except StopIteration as stop:
        result: T = stop.value
        return result
