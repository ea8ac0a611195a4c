"""Build the pluggable generic functions a node's settings choose (sync and async twins).

``[addressing] kind``: ``static`` -> :class:`~twiin.addressing.StaticAddressBook`, ``live`` ->
:class:`~twiin.addressing.LiveDirectory`, ``cache`` -> :class:`~twiin.addressing.DirectoryCache`
over a :class:`~twiin.addressing.SqliteDirectoryStore`. ``[consent] kind``: ``local`` ->
:class:`~twiin.consent.LocalConsentRegister`, ``mitz`` -> :class:`~twiin.consent.MitzClient`.
"""

from __future__ import annotations

from typing import Any

from twiin.addressing import (
    AsyncDirectoryCache,
    AsyncLiveDirectory,
    AsyncStaticAddressBook,
    DirectoryCache,
    LiveDirectory,
    SqliteDirectoryStore,
    StaticAddressBook,
)
from twiin.consent import AsyncLocalConsentRegister, AsyncMitzClient, LocalConsentRegister, MitzClient
from twiin.node.base import NodeBase

__all__ = ["async_consent", "async_directory", "sync_consent", "sync_directory"]

Resolver = StaticAddressBook | LiveDirectory | DirectoryCache
AsyncResolver = AsyncStaticAddressBook | AsyncLiveDirectory | AsyncDirectoryCache


def _live_options(node: NodeBase) -> tuple[str, dict[str, Any]]:
    name = node.settings.addressing.endpoint
    assert name is not None  # AddressingSettings requires it for live and cache
    endpoint = node.endpoint(name)
    return endpoint.base_url, node.endpoint_options(endpoint)


def _store(node: NodeBase) -> SqliteDirectoryStore:
    return SqliteDirectoryStore(node.settings.addressing.cache_path)


def sync_directory(node: NodeBase) -> Resolver:
    """The address resolver ``[addressing]`` names."""
    settings, policy = node.settings.addressing, node.endpoint_policy
    if settings.kind == "static":
        assert settings.address_book is not None
        return StaticAddressBook.from_file(settings.address_book, policy=policy)
    if settings.kind == "cache":
        return DirectoryCache(_store(node), policy=policy)
    base_url, http = _live_options(node)
    return LiveDirectory(base_url, policy=policy, **http)


def async_directory(node: NodeBase) -> AsyncResolver:
    """Async twin of :func:`sync_directory`."""
    settings, policy = node.settings.addressing, node.endpoint_policy
    if settings.kind == "static":
        assert settings.address_book is not None
        return AsyncStaticAddressBook.from_file(settings.address_book, policy=policy)
    if settings.kind == "cache":
        return AsyncDirectoryCache(_store(node), policy=policy)
    base_url, http = _live_options(node)
    return AsyncLiveDirectory(base_url, policy=policy, **http)


def _mitz_options(node: NodeBase) -> tuple[str, dict[str, Any]]:
    name = node.settings.consent.endpoint
    assert name is not None  # ConsentSettings requires it for mitz
    endpoint = node.endpoint(name)
    options = {
        "credentials": node.credentials,
        "trust": node.trust,
        "timeouts": endpoint.timeouts,
        "allow_tls12": endpoint.allow_tls12,
        "sign_requests": node.settings.consent.sign_requests,
        "auditor": node.auditor,
    }
    return endpoint.base_url, options


def sync_consent(node: NodeBase) -> LocalConsentRegister | MitzClient:
    """The consent checker ``[consent]`` names."""
    if node.settings.consent.kind == "local":
        path = node.settings.consent.register_path
        return LocalConsentRegister(path if path is not None else ":memory:")
    base_url, options = _mitz_options(node)
    return MitzClient(base_url, **options)


def async_consent(node: NodeBase) -> AsyncLocalConsentRegister | AsyncMitzClient:
    """Async twin of :func:`sync_consent`."""
    if node.settings.consent.kind == "local":
        path = node.settings.consent.register_path
        return AsyncLocalConsentRegister(LocalConsentRegister(path if path is not None else ":memory:"))
    base_url, options = _mitz_options(node)
    return AsyncMitzClient(base_url, **options)
