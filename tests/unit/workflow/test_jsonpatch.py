"""JSON Patch: the diff the SDK sends and the applier a Placer uses to vet a PATCH."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twiin.exchange.workflow.jsonpatch import JsonPatchError, apply, diff

from . import examples as ex


def test_diff_round_trip_on_a_task() -> None:
    old = ex.ct_invited() | {"meta": {"versionId": "1"}}
    new = dict(old, status="accepted", output=[{"type": {"text": "Bid"}, "valueString": "soon"}])
    del new["location"]
    ops = diff(old, new)
    assert {o["op"] for o in ops} == {"replace", "add", "remove"}
    assert {o["path"] for o in ops} == {"/status", "/output", "/location"}
    assert apply(old, ops) == new
    assert old["status"] == "requested"  # the input is untouched


def test_diff_leaves_meta_and_id_alone() -> None:
    old = {"resourceType": "Task", "id": "1", "meta": {"versionId": "1"}}
    assert diff(old, {"resourceType": "Task", "id": "2", "meta": {"versionId": "9"}}) == []


def test_escaping() -> None:
    old: dict[str, Any] = {"a/b": 1, "c~d": 2}
    new: dict[str, Any] = {"a/b": 3, "c~d": 4}
    ops = diff(old, new)
    assert [o["path"] for o in ops] == ["/a~1b", "/c~0d"]
    assert apply(old, ops) == new


def test_all_operations() -> None:
    doc: dict[str, Any] = {"input": [{"v": 1}, {"v": 2}], "status": "accepted", "note": [{"text": "x"}]}
    ops = [
        {"op": "test", "path": "/status", "value": "accepted"},
        {"op": "add", "path": "/input/1", "value": {"v": 9}},
        {"op": "add", "path": "/input/-", "value": {"v": 3}},
        {"op": "remove", "path": "/input/0"},
        {"op": "replace", "path": "/status", "value": "in-progress"},
        {"op": "copy", "from": "/note/0", "path": "/note/-"},
        {"op": "move", "from": "/note", "path": "/comments"},
    ]
    assert apply(doc, ops) == {
        "input": [{"v": 9}, {"v": 2}, {"v": 3}],
        "status": "in-progress",
        "comments": [{"text": "x"}, {"text": "x"}],
    }


@pytest.mark.parametrize(
    "ops",
    [
        {"op": "add"},
        ["not an op"],
        [{"op": "frobnicate", "path": "/a"}],
        [{"op": "add", "path": "a", "value": 1}],
        [{"op": "add", "path": "", "value": 1}],
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "remove", "path": "/list/5"}],
        [{"op": "remove", "path": "/list/01"}],
        [{"op": "add", "path": "/list/x", "value": 1}],
        [{"op": "add", "path": "/a/b/c", "value": 1}],
        [{"op": "test", "path": "/a", "value": 2}],
        [{"op": "replace", "path": "/a"}],
        [{"op": "move", "from": "/nope", "path": "/a"}],
    ],
)
def test_malformed_patches_are_typed_errors(ops: Any) -> None:
    with pytest.raises(JsonPatchError):
        apply({"a": 1, "list": [1, 2]}, ops)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=10,
)
documents = st.dictionaries(
    st.text(min_size=1, max_size=6).filter(lambda k: k not in ("meta", "id", "resourceType")),
    json_values,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(documents, documents)
def test_diff_then_apply_reproduces_the_new_document(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert apply(old, diff(old, new)) == new


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=4), json_values, max_size=3), json_values)
def test_arbitrary_input_never_escapes_as_an_untyped_error(doc: dict[str, Any], ops: Any) -> None:
    try:
        apply(doc, ops)
    except JsonPatchError:
        pass
