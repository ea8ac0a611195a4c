"""``twiin validate`` on team-written Twiin examples, as JSON and XML files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import Invoke, as_json, run_module
from tests.unit.validation import fixtures as fx
from twiin import naming
from twiin.fhir.content import serialize
from twiin.fhir_version import FhirVersion


def _write(tmp_path: Path, name: str, resource: Any) -> Path:
    path = tmp_path / name
    if name.endswith(".xml"):
        path.write_bytes(serialize(resource, naming.FHIR_XML, version=FhirVersion.R4))
    else:
        path.write_text(json.dumps(resource))
    return path


def test_valid_task_exits_0(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("validate", "--json", str(_write(tmp_path, "task.json", fx.ct_invited())))
    assert result.exit_code == 0
    data = as_json(result)
    assert data["valid"] is True
    assert data["issues"] == []
    assert data["profiles"] == [naming.SD_COORDINATION_TASK]


def test_invalid_task_exits_1_with_key_severity_path(invoke: Invoke, tmp_path: Path) -> None:
    task = fx.ct_invited()
    del task["intent"]
    result = invoke("validate", "--json", str(_write(tmp_path, "task.json", task)))
    assert result.exit_code == 1
    issues = as_json(result)["issues"]
    assert {"key": "cardinality", "severity": "error", "path": "Task.intent"} in [
        {k: i[k] for k in ("key", "severity", "path")} for i in issues
    ]
    human = invoke("validate", str(tmp_path / "task.json"))
    assert human.exit_code == 1
    assert "error   cardinality   Task.intent:" in human.output
    assert "1 error(s), 0 warning(s)" in human.output


def test_warnings_only_exit_0(invoke: Invoke, tmp_path: Path) -> None:
    task = fx.ct_invited()
    task["statusReason"] = {"coding": [{"system": "urn:example", "code": "x"}]}  # twiin-task-1 warning
    result = invoke("validate", "--json", str(_write(tmp_path, "task.json", task)))
    data = as_json(result)
    assert [i["severity"] for i in data["issues"]] == ["warning"]
    assert result.exit_code == 0
    assert data["valid"] is True


def test_xml_resource(invoke: Invoke, tmp_path: Path) -> None:
    good = invoke("validate", str(_write(tmp_path, "ok.xml", fx.ct_invited())))
    assert good.exit_code == 0, good.output
    task = fx.ct_invited()
    task["intent"] = "plan"
    bad = invoke("validate", "--json", str(_write(tmp_path, "bad.xml", task)))
    assert bad.exit_code == 1
    assert any(i["path"] == "Task.intent" for i in as_json(bad)["issues"])


def test_explicit_profile_by_name(invoke: Invoke, tmp_path: Path) -> None:
    request = fx.service_request()
    del request["meta"]
    path = _write(tmp_path, "sr.json", request)
    unchecked = invoke("validate", str(path))
    assert unchecked.exit_code == 0
    assert "nothing checked" in unchecked.output
    del request["instantiatesCanonical"]
    path.write_text(json.dumps(request))
    checked = invoke("validate", "--json", "--profile", "twiin-workflow-servicerequest", str(path))
    assert checked.exit_code == 1
    assert as_json(checked)["profiles"] == [naming.SD_WORKFLOW_SERVICE_REQUEST]


def test_unknown_profile_and_unreadable_input_exit_2(invoke: Invoke, tmp_path: Path) -> None:
    good = _write(tmp_path, "task.json", fx.ct_invited())
    assert invoke("validate", "--profile", "no-such-profile", str(good)).exit_code == 2
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert invoke("validate", str(broken)).exit_code == 2
    doctype = tmp_path / "evil.xml"
    doctype.write_text('<!DOCTYPE x [<!ENTITY e "e">]><Task xmlns="http://hl7.org/fhir"/>')
    assert invoke("validate", str(doctype)).exit_code == 2
    assert invoke("validate", str(tmp_path / "absent.json")).exit_code == 2


def test_messages_never_show_a_bsn(invoke: Invoke, tmp_path: Path) -> None:
    task = fx.ct_invited()
    task["for"] = {"identifier": {"system": naming.BSN_SYSTEM, "value": "999999151"}, "reference": 5}
    result = invoke("validate", str(_write(tmp_path, "task.json", task)))
    assert "999999151" not in result.output


def test_subprocess_invalid_resource(tmp_path: Path) -> None:
    task = fx.ct_invited()
    task["status"] = "bogus"
    done = run_module("validate", "--json", str(_write(tmp_path, "task.json", task)))
    assert done.returncode == 1
    assert json.loads(done.stdout)["valid"] is False


def test_base_model_errors_with_an_explicit_version(invoke: Invoke, tmp_path: Path) -> None:
    task = {"resourceType": "Task", "status": "draft", "intent": "order", "colour": "blue"}
    path = _write(tmp_path, "plain.json", task)
    unchecked = invoke("validate", "--json", str(path))
    assert unchecked.exit_code == 0
    assert as_json(unchecked)["base_model"] is None
    checked = invoke("validate", "--json", "--version", "R4", str(path))
    assert checked.exit_code == 1
    assert {"key": "fhir-model", "severity": "error", "path": "Task.colour"} in [
        {k: i[k] for k in ("key", "severity", "path")} for i in as_json(checked)["issues"]
    ]
    task.pop("colour")
    assert invoke("validate", "--version", "R4", str(_write(tmp_path, "plain.json", task))).exit_code == 0
