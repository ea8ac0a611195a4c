"""Addressing: find a care provider's endpoints for a use case.

Resolvers (all answer ``resolve(ura, payload_type, *, fhir_version=None)``):
:class:`DirectoryCache` reads a store kept current by :class:`DirectorySync` (LRZa root plus
providers' Administration Directories, or a consolidated Query Directory);
:class:`LiveDirectory` queries a Query Directory per call; :class:`StaticAddressBook` reads a
bilateral TOML/JSON list (plateau 1-2). Payload type constants are in
:mod:`twiin.addressing.payload_types`.
"""

from twiin.addressing import payload_types
from twiin.addressing.endpoint import CareUnit, EndpointPolicy, OrganizationRef, ResolvedEndpoint, UnitKind
from twiin.addressing.live import AsyncLiveDirectory, LiveDirectory
from twiin.addressing.payload_types import PayloadType
from twiin.addressing.report import SourceReport, SyncMode, SyncProgress, SyncReport
from twiin.addressing.resolvers import (
    AddressResolver,
    AsyncAddressResolver,
    AsyncDirectoryCache,
    DirectoryCache,
)
from twiin.addressing.sqlite_store import SqliteDirectoryStore
from twiin.addressing.static import AsyncStaticAddressBook, StaticAddressBook
from twiin.addressing.store import DirectoryStore, Rejection, Source, SourceKind, SourceState, TypeCounts
from twiin.addressing.sync import AsyncDirectorySync, DirectorySync
from twiin.addressing.sync_core import SyncEngine, SyncOptions
from twiin.addressing.transport import AsyncHttpBundleFetcher, BundleFetcher, HttpBundleFetcher

__all__ = [
    "AddressResolver",
    "AsyncAddressResolver",
    "AsyncDirectoryCache",
    "AsyncDirectorySync",
    "AsyncHttpBundleFetcher",
    "AsyncLiveDirectory",
    "AsyncStaticAddressBook",
    "BundleFetcher",
    "CareUnit",
    "DirectoryCache",
    "DirectoryStore",
    "DirectorySync",
    "EndpointPolicy",
    "HttpBundleFetcher",
    "LiveDirectory",
    "OrganizationRef",
    "PayloadType",
    "Rejection",
    "ResolvedEndpoint",
    "Source",
    "SourceKind",
    "SourceReport",
    "SourceState",
    "SqliteDirectoryStore",
    "StaticAddressBook",
    "SyncEngine",
    "SyncMode",
    "SyncOptions",
    "SyncProgress",
    "SyncReport",
    "TypeCounts",
    "UnitKind",
    "payload_types",
]
