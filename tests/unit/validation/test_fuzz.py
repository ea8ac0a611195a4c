"""validate() takes outside input: any mutation of a valid resource yields issues, never an exception."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.validation import fixtures as fx
from twiin.validation import ValidationIssue, validate

MAKERS = [
    fx.ct_invited,
    fx.ct_in_progress,
    fx.crt,
    fx.acrt,
    fx.service_request,
    fx.workflow_subscription,
    fx.subscription,
    fx.event_id_only,
    fx.event_full_resource,
    fx.heartbeat,
]
JSON_VALUES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=6)
    | st.builds(dict)
    | st.builds(list)
    | st.builds(lambda: [1, "a"])
    | st.builds(lambda: {"x": 1})
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(MAKERS), st.data())
def test_mutations_never_raise(make: Any, data: st.DataObject) -> None:
    resource = make()
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(resource) if p[0] != "meta"]
        target = data.draw(st.sampled_from(paths))
        node = resource
        try:
            for step in target[:-1]:
                node = node[step]
            node[target[-1]] = data.draw(JSON_VALUES)
        except (KeyError, IndexError, TypeError):
            continue
    issues = validate(resource)
    assert all(isinstance(i, ValidationIssue) for i in issues)
