"""A bilateral address book from a TOML or JSON file (plateau 1-2): URA -> endpoints.

.. code-block:: toml

    [[organization]]
    ura = "87654321"
    name = "Ziekenhuis Oost"

    [[organization.endpoint]]
    address = "https://fhir.zho.example/fhir"
    payload_types = ["Twiin-TA-notification", "http://nictiz.nl/fhir/CapabilityStatement/bgz2017-servercapabilities"]
    fhir_version = "STU3"          # optional
    name = "Notified Pull"          # optional

The JSON form is the same structure (``{"organization": [...]}``). Addresses are checked
against the policy when the book is loaded.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from twiin.addressing.endpoint import EndpointPolicy, OrganizationRef, ResolvedEndpoint
from twiin.addressing.payload_types import PayloadType
from twiin.addressing.resolvers import normalise
from twiin.addressing.routing import finish, select
from twiin.errors import ConfigurationError, InvalidIdentifier, UnsafeEndpoint
from twiin.fhir_version import FhirVersion
from twiin.identifiers import Ura

__all__ = ["AsyncStaticAddressBook", "StaticAddressBook"]


def _fail(where: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"address book {where}", problem)


def _endpoint(where: str, org: OrganizationRef, data: Any, policy: EndpointPolicy) -> ResolvedEndpoint:
    if not isinstance(data, Mapping):
        raise _fail(where, "must be a table")
    address = data.get("address")
    try:
        policy.check(address)
    except UnsafeEndpoint as exc:
        raise _fail(f"{where}.address", exc.message) from None
    raw_types = data.get("payload_types")
    if not isinstance(raw_types, list) or not raw_types:
        raise _fail(f"{where}.payload_types", "must be a non-empty list of payload type codes")
    try:
        payloads = tuple(dict.fromkeys(PayloadType.parse(p) for p in raw_types))
    except ValueError as exc:
        raise _fail(f"{where}.payload_types", str(exc)) from None
    version = data.get("fhir_version")
    if version is not None and version not in FhirVersion.__members__:
        raise _fail(f"{where}.fhir_version", "must be STU3 or R4")
    name = data.get("name", "")
    return ResolvedEndpoint(
        address=str(address),
        organization=org,
        payload_types=payloads,
        fhir_version=FhirVersion(version) if version else None,
        name=name if isinstance(name, str) else "",
        endpoint_id=f"static-{where}",
        source="static",
    )


class StaticAddressBook:
    """An :class:`~twiin.addressing.resolvers.AddressResolver` over a fixed list of endpoints."""

    def __init__(self, entries: Mapping[str, Any], *, policy: EndpointPolicy | None = None) -> None:
        self.policy = policy or EndpointPolicy()
        self._by_ura: dict[str, list[ResolvedEndpoint]] = {}
        orgs = entries.get("organization")
        if not isinstance(orgs, list):
            raise _fail("organization", "must be a list of tables")
        for i, item in enumerate(orgs):
            where = f"organization[{i}]"
            if not isinstance(item, Mapping):
                raise _fail(where, "must be a table")
            try:
                ura = Ura(item.get("ura"))  # type: ignore[arg-type]
            except InvalidIdentifier as exc:
                raise _fail(f"{where}.ura", exc.message) from None
            name = item.get("name", "")
            org = OrganizationRef(ura, name if isinstance(name, str) else "")
            raw = item.get("endpoint")
            if not isinstance(raw, list):
                raise _fail(f"{where}.endpoint", "must be a list of tables")
            found = [_endpoint(f"{where}.endpoint[{j}]", org, e, self.policy) for j, e in enumerate(raw)]
            self._by_ura.setdefault(ura.value, []).extend(found)

    @classmethod
    def from_file(cls, path: str | Path, *, policy: EndpointPolicy | None = None) -> StaticAddressBook:
        """Load a ``.toml`` or ``.json`` address book."""
        file = Path(path)
        try:
            text = file.read_bytes()
            data = json.loads(text) if file.suffix.lower() == ".json" else tomllib.loads(text.decode())
        except (OSError, ValueError) as exc:
            raise _fail(str(file.name), f"cannot be read: {type(exc).__name__}") from None
        if not isinstance(data, Mapping):
            raise _fail(str(file.name), "must hold a table")
        return cls(data, policy=policy)

    @property
    def uras(self) -> Sequence[str]:
        """The URAs in the book."""
        return sorted(self._by_ura)

    def resolve(
        self, ura: Ura | str, payload_type: PayloadType | str, *, fhir_version: FhirVersion | None = None
    ) -> list[ResolvedEndpoint]:
        """Every endpoint of ``ura`` for ``payload_type`` in the book."""
        typed_ura, payload = normalise(ura, payload_type)
        candidates = self._by_ura.get(typed_ura.value, [])
        return finish(typed_ura, payload, select(candidates, payload, fhir_version), self.policy)


class AsyncStaticAddressBook:
    """Async twin of :class:`StaticAddressBook`."""

    def __init__(self, entries: Mapping[str, Any], *, policy: EndpointPolicy | None = None) -> None:
        self._sync = StaticAddressBook(entries, policy=policy)
        self.policy = self._sync.policy

    @classmethod
    def from_file(cls, path: str | Path, *, policy: EndpointPolicy | None = None) -> AsyncStaticAddressBook:
        """Load a ``.toml`` or ``.json`` address book."""
        book = cls.__new__(cls)
        book._sync = StaticAddressBook.from_file(path, policy=policy)
        book.policy = book._sync.policy
        return book

    @property
    def uras(self) -> Sequence[str]:
        """The URAs in the book."""
        return self._sync.uras

    async def resolve(
        self, ura: Ura | str, payload_type: PayloadType | str, *, fhir_version: FhirVersion | None = None
    ) -> list[ResolvedEndpoint]:
        """Every endpoint of ``ura`` for ``payload_type`` in the book."""
        return self._sync.resolve(ura, payload_type, fhir_version=fhir_version)
