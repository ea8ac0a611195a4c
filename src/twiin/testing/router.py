"""Dispatch requests to server blocks by URL path prefix (one listener, several blocks)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from twiin.serving import Answer, IncomingRequest

__all__ = ["Router"]

Handler = Callable[[IncomingRequest], Answer]


class Router:
    """Routes each request to the handler of the longest matching path prefix."""

    def __init__(self, routes: Mapping[str, Handler]) -> None:
        self._routes = [
            (("/" + prefix.strip("/")).rstrip("/") or "/", handler) for prefix, handler in routes.items()
        ]
        self._routes.sort(key=lambda item: len(item[0]), reverse=True)

    def __call__(self, request: IncomingRequest) -> Answer:
        path = request.path
        for prefix, handler in self._routes:
            if prefix in ("/", path) or path.startswith(prefix + "/"):
                return handler(request)
        return Answer.outcome(404, "not-found", "no service at this path")
