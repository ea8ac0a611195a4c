"""Base classes for facades that hold an HTTP client: given by the caller, or made and closed here."""

from __future__ import annotations

from typing import Any, Self

from twiin._http.client import create_async_client, create_client
from twiin._http.compat import httpx

__all__ = ["AsyncClientHolder", "ClientHolder"]


class ClientHolder:
    """Holds ``_client``: the caller's client, or one made from ``client_options`` that
    :meth:`close` (and leaving a ``with`` block) closes."""

    def __init__(self, client: httpx.Client | None, client_options: dict[str, Any]) -> None:
        self._owns = client is None
        self._client = client or create_client(**client_options)

    def close(self) -> None:
        """Close the HTTP client (only if this facade created it)."""
        if self._owns:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClientHolder:
    """Async twin of :class:`ClientHolder` (``async with``, ``await close()``)."""

    def __init__(self, client: httpx.AsyncClient | None, client_options: dict[str, Any]) -> None:
        self._owns = client is None
        self._client = client or create_async_client(**client_options)

    async def close(self) -> None:
        """Close the HTTP client (only if this facade created it)."""
        if self._owns:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
