"""JSON Patch (RFC 6902) for Task updates: a top-level diff to send, and an applier for servers.

The Placer's CapabilityStatement requires ``PATCH`` with ``application/json-patch+json``, version
aware like ``PUT``. :func:`diff` turns an old and new resource into replace/add/remove operations
on top-level elements; :func:`apply` applies any RFC 6902 document (add, remove, replace, move,
copy, test) so a Placer can vet the result with the workflow rules before storing it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from twiin.errors import ExchangeError

__all__ = ["JsonPatchError", "apply", "diff"]


class JsonPatchError(ExchangeError):
    """A JSON Patch document is malformed or does not apply (a ``test`` failed, a path is missing)."""


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Operations turning ``old`` into ``new`` (top-level elements; ``meta`` and ``id`` left alone)."""
    ops: list[dict[str, Any]] = []
    for key in sorted(set(old) | set(new)):
        if key in ("meta", "id", "resourceType") or (key in old and key in new and old[key] == new[key]):
            continue
        path = "/" + _escape(key)
        if key not in new:
            ops.append({"op": "remove", "path": path})
        elif key in old:
            ops.append({"op": "replace", "path": path, "value": copy.deepcopy(new[key])})
        else:
            ops.append({"op": "add", "path": path, "value": copy.deepcopy(new[key])})
    return ops


def _segments(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise JsonPatchError("a JSON Patch path is a JSON Pointer starting with '/'")
    if path == "":
        raise JsonPatchError("patching the whole document is not supported")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _index(container: list[Any], segment: str, *, adding: bool) -> int:
    if adding and segment == "-":
        return len(container)
    if not segment.isdigit() or (len(segment) > 1 and segment.startswith("0")):
        raise JsonPatchError("array index is not a number")
    index = int(segment)
    if index > len(container) or (not adding and index == len(container)):
        raise JsonPatchError("array index out of range")
    return index


def _parent(doc: Any, tokens: list[str]) -> tuple[Any, str]:
    node = doc
    for segment in tokens[:-1]:
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list):
            node = node[_index(node, segment, adding=False)]
        else:
            raise JsonPatchError("path does not exist")
    return node, tokens[-1]


def _get(doc: Any, path: Any) -> Any:
    parent, last = _parent(doc, _segments(path))
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, adding=False)]
    raise JsonPatchError("path does not exist")


def _remove(doc: Any, path: Any) -> Any:
    parent, last = _parent(doc, _segments(path))
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, adding=False))
    raise JsonPatchError("path does not exist")


def _add(doc: Any, path: Any, value: Any) -> None:
    parent, last = _parent(doc, _segments(path))
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, adding=True), value)
    else:
        raise JsonPatchError("path does not exist")


def apply(document: Mapping[str, Any], operations: Any) -> dict[str, Any]:
    """Apply RFC 6902 ``operations`` to a copy of ``document`` (:class:`JsonPatchError` if they fail)."""
    if not isinstance(operations, Sequence) or isinstance(operations, str | bytes):
        raise JsonPatchError("a JSON Patch document is an array of operations")
    doc: dict[str, Any] = copy.deepcopy(dict(document))
    for op in operations:
        if not isinstance(op, Mapping) or not isinstance(op.get("op"), str):
            raise JsonPatchError("each operation is an object with an 'op'")
        kind, path = op["op"], op.get("path")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise JsonPatchError(f"'{kind}' needs a value")
        if kind == "add":
            _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            _remove(doc, path)
            _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "move":
            value = _remove(doc, op.get("from"))
            _add(doc, path, value)
        elif kind == "copy":
            _add(doc, path, copy.deepcopy(_get(doc, op.get("from"))))
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise JsonPatchError("a 'test' operation failed")
        else:
            raise JsonPatchError(f"unknown operation {kind!r}")
    return doc
