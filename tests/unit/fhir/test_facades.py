"""FhirClient and AsyncFhirClient over MockTransport: every test runs for both facades."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable

import pytest

from tests.unit.fhir.runners import BASE, Runner, fhir_response
from twiin._http.compat import httpx
from twiin.config import RetryPolicy
from twiin.errors import (
    ConnectionError,
    ModelValidationError,
    NotAuthorizedError,
    NotFoundError,
    PagingError,
    PreconditionFailedError,
    RateLimitedError,
    ServerError,
    TimeoutError,
    UnsafeEndpoint,
)
from twiin.fhir import AsyncFhirClient, BundleBuilder, FhirClient, FhirVersion, SearchParams

MakeRunner = Callable[..., Runner]

TASK = {
    "resourceType": "Task",
    "id": "t1",
    "status": "requested",
    "intent": "order",
    "meta": {"versionId": "a1b2"},
}
BSN = "999999151"


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and callable(member) and not name.startswith("aiter_")
    }


def test_sync_and_async_facades_expose_the_same_methods_and_signatures() -> None:
    sync_methods = public_methods(FhirClient)
    async_methods = public_methods(AsyncFhirClient)
    assert sync_methods.keys() == async_methods.keys()
    for name, signature in sync_methods.items():
        other = async_methods[name]
        assert list(signature.parameters) == list(other.parameters), name
        for param, spec in signature.parameters.items():
            assert spec.kind == other.parameters[param].kind, (name, param)
            assert spec.default == other.parameters[param].default, (name, param)
    for name in sync_methods.keys() - {"iter_pages", "iter_resources", "from_endpoint"}:
        assert inspect.iscoroutinefunction(getattr(AsyncFhirClient, name)), name
        assert not inspect.iscoroutinefunction(getattr(FhirClient, name)), name
    assert inspect.isasyncgenfunction(AsyncFhirClient.iter_pages)
    assert inspect.isasyncgenfunction(AsyncFhirClient.iter_resources)
    assert AsyncFhirClient.aiter_pages is AsyncFhirClient.iter_pages
    assert inspect.iscoroutinefunction(AsyncFhirClient.close)


def test_read_parses_model_and_keeps_raw_and_headers(make_runner: MakeRunner) -> None:
    seen: list[httpx.Request] = []
    body = {**TASK, "input": [{"type": {"text": "n"}, "valueDecimal": 1.50}]}
    raw = json.dumps(body).replace("1.5", "1.50").encode()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, content=raw, headers={"Content-Type": "application/fhir+json", "ETag": 'W/"a1b2"'}
        )

    runner = make_runner(handler)
    result = runner("read", "Task", "t1")
    assert str(seen[0].url) == f"{BASE}/Task/t1"
    assert seen[0].method == "GET"
    assert "application/fhir+json" in seen[0].headers["accept"]
    assert seen[0].headers["user-agent"].startswith("twiin-python/")
    assert result.resource.status == "requested"
    assert result.raw == raw
    assert b"1.50" in result.raw
    assert result.json["id"] == "t1"
    assert result.etag == 'W/"a1b2"'
    assert result.version_id == "a1b2"
    assert result.id == "t1"
    assert result.status == 200


def test_raw_mode_skips_validation(make_runner: MakeRunner) -> None:
    invalid = {"resourceType": "Task", "id": "t1", "unknownField": 1}
    runner = make_runner(lambda r: fhir_response(200, invalid), raw=True)
    result = runner("read", "Task", "t1")
    assert result.resource is None
    assert result.json == invalid
    with pytest.raises(ModelValidationError):
        result.model()


def test_invalid_2xx_body_raises_model_validation_error_with_raw(make_runner: MakeRunner) -> None:
    invalid = {
        "resourceType": "Task",
        "id": "t1",
        "status": "requested",
        "intent": "order",
        "for": "Patient/1",
    }
    runner = make_runner(lambda r: fhir_response(200, invalid))
    with pytest.raises(ModelValidationError) as info:
        runner("read", "Task", "t1")
    assert info.value.raw is not None
    assert b'"for"' in info.value.raw
    assert info.value.resource_type == "Task"


def test_create_reports_id_version_location(make_runner: MakeRunner) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fhir_response(
            201,
            {**json.loads(request.content), "id": "new1", "meta": {"versionId": "v-x"}},
            Location=f"{BASE}/Task/new1/_history/v-x",
            ETag='W/"v-x"',
        )

    runner = make_runner(handler)
    created = runner(
        "create",
        {k: v for k, v in TASK.items() if k not in ("id", "meta")},
        if_none_exist={"identifier": "s|1"},
    )
    assert seen[0].method == "POST"
    assert str(seen[0].url) == f"{BASE}/Task"
    assert seen[0].headers["if-none-exist"] == "identifier=s|1"
    assert seen[0].headers["content-type"].startswith("application/fhir+json")
    assert (created.id, created.version_id, created.location) == (
        "new1",
        "v-x",
        f"{BASE}/Task/new1/_history/v-x",
    )


def test_create_without_body_in_answer_uses_location(make_runner: MakeRunner) -> None:
    runner = make_runner(lambda r: fhir_response(201, None, Location=f"{BASE}/Task/n2/_history/7"))
    created = runner("create", {"resourceType": "Task", "status": "draft", "intent": "order"})
    assert created.resource is None
    assert created.json is None
    assert created.id == "n2"
    assert created.version_id == "7"


def test_update_sends_if_match_and_412_raises(make_runner: MakeRunner) -> None:
    seen: list[httpx.Request] = []
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "conflict", "diagnostics": "stale version"}],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fhir_response(412, outcome)

    runner = make_runner(handler)
    with pytest.raises(PreconditionFailedError) as info:
        runner("update", TASK, if_match="a1b2")
    assert seen[0].headers["if-match"] == 'W/"a1b2"'
    assert seen[0].method == "PUT"
    assert str(seen[0].url) == f"{BASE}/Task/t1"
    err = info.value
    assert err.status == 412
    assert err.operation_outcome.issue[0].diagnostics == "stale version"
    assert "stale version" in str(err)


def test_patch_uses_json_patch_content_type(make_runner: MakeRunner) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fhir_response(200, {**TASK, "status": "accepted"})

    runner = make_runner(handler)
    result = runner(
        "patch",
        "Task",
        "t1",
        [{"op": "replace", "path": "/status", "value": "accepted"}],
        if_match='W/"a1b2"',
    )
    assert seen[0].method == "PATCH"
    assert seen[0].headers["content-type"] == "application/json-patch+json"
    assert seen[0].headers["if-match"] == 'W/"a1b2"'
    assert json.loads(seen[0].content) == [{"op": "replace", "path": "/status", "value": "accepted"}]
    assert result.resource.status == "accepted"


@pytest.mark.parametrize("status", [404, 410, 200, 204])
def test_delete_treats_gone_as_success(make_runner: MakeRunner, status: int) -> None:
    runner = make_runner(lambda r: fhir_response(status, None))
    assert runner("delete", "Task", "t1").status == status


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, NotFoundError),
        (410, NotFoundError),
        (412, PreconditionFailedError),
        (429, RateLimitedError),
        (503, ServerError),
        (401, NotAuthorizedError),
        (403, NotAuthorizedError),
    ],
)
def test_status_mapping_and_redaction(make_runner: MakeRunner, status: int, error: type[Exception]) -> None:
    runner = make_runner(
        lambda r: fhir_response(
            status,
            {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing"}]},
            **{"Retry-After": "3"},
        )
    )
    with pytest.raises(error) as info:
        runner("search", "Patient", {"identifier": f"http://fhir.nl/fhir/NamingSystem/bsn|{BSN}"})
    text = str(info.value) + repr(info.value)
    assert BSN not in text
    assert "?<redacted>" in text
    if status == 429:
        assert info.value.retry_after == 3.0


def test_transport_errors_are_mapped(make_runner: MakeRunner) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ConnectionError):
        make_runner(refuse)("read", "Task", "t1")

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(TimeoutError):
        make_runner(slow)("read", "Task", "t1")


def test_retry_policy_applies_to_reads(make_runner: MakeRunner) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return fhir_response(503 if len(calls) == 1 else 200, TASK, **{"Retry-After": "0"})

    runner = make_runner(handler, retry=RetryPolicy(max_attempts=2, backoff_base=0.0))
    assert runner("read", "Task", "t1").status == 200
    assert len(calls) == 2


def _searchset(start: int, n: int, next_url: str | None) -> dict:
    bundle: dict = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "Organization", "id": f"o{start + i}"}, "search": {"mode": "match"}}
            for i in range(n)
        ],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def test_paging_follows_relative_and_absolute_next_links(make_runner: MakeRunner) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        page = request.url.params.get("page", "1")
        if page == "1":
            return fhir_response(200, _searchset(0, 2, f"{BASE}/Organization?page=2"))
        if page == "2":
            return fhir_response(200, _searchset(2, 2, "Organization?page=3"))
        return fhir_response(200, _searchset(4, 1, None))

    runner = make_runner(handler)
    ids = [o.id for o in runner.collect("iter_resources", "Organization", SearchParams().count(2))]
    assert ids == ["o0", "o1", "o2", "o3", "o4"]
    assert seen[0] == f"{BASE}/Organization?_count=2"
    assert seen[2] == f"{BASE}/Organization?page=3"


def test_paging_refuses_other_origin(make_runner: MakeRunner) -> None:
    runner = make_runner(
        lambda r: fhir_response(200, _searchset(0, 1, "https://evil.example.com/fhir/Organization?page=2"))
    )
    with pytest.raises(PagingError):
        runner.collect("iter_pages", "Organization")


def test_paging_stops_on_repeated_link(make_runner: MakeRunner) -> None:
    runner = make_runner(lambda r: fhir_response(200, _searchset(0, 1, f"{BASE}/Organization?page=2")))
    with pytest.raises(PagingError, match="repeated"):
        runner.collect("iter_pages", "Organization")


def test_paging_max_pages(make_runner: MakeRunner) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        return fhir_response(200, _searchset(page, 1, f"{BASE}/Organization?page={page + 1}"))

    runner = make_runner(handler, max_pages=3)
    with pytest.raises(PagingError, match="3 pages"):
        runner.collect("iter_pages", "Organization")


def test_search_url_refuses_other_origin(make_runner: MakeRunner) -> None:
    runner = make_runner(lambda r: fhir_response(200, _searchset(0, 0, None)))
    with pytest.raises(UnsafeEndpoint):
        runner("search_url", "https://evil.example.com/fhir/Patient")
    assert runner("search_url", "/Organization?name=x").status == 200


def test_transaction_correlates_entries(make_runner: MakeRunner) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        assert str(request.url) == BASE
        return fhir_response(
            200,
            {
                "resourceType": "Bundle",
                "type": "transaction-response",
                "entry": [
                    {
                        "response": {
                            "status": "201 Created",
                            "location": "Organization/o9/_history/1",
                            "etag": 'W/"1"',
                        }
                    },
                    {
                        "response": {"status": "200 OK"},
                        "resource": {"resourceType": "Organization", "id": "o1"},
                    },
                ][: len(sent["entry"])],
            },
        )

    builder = BundleBuilder("transaction")
    full_url = builder.create({"resourceType": "Organization", "name": "x"})
    builder.read("Organization", "o1")
    result = make_runner(handler)("transaction", builder)
    assert result.ok
    created = result.by_full_url(full_url)
    assert (created.status, created.id, created.version_id) == (201, "o9", "1")
    assert result[1].resource.id == "o1"


def test_operation_urls(make_runner: MakeRunner) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fhir_response(200, {"resourceType": "Parameters"})

    runner = make_runner(handler)
    runner("operation", "lastn", type="Observation", params={"max": 3})
    runner("operation", "$status", type="Subscription", id="s1")
    runner(
        "operation",
        "events",
        type="Subscription",
        id="s1",
        method="POST",
        body={"resourceType": "Parameters"},
    )
    assert [str(r.url) for r in seen] == [
        f"{BASE}/Observation/$lastn?max=3",
        f"{BASE}/Subscription/s1/$status",
        f"{BASE}/Subscription/s1/$events",
    ]
    assert seen[2].method == "POST"
    assert json.loads(seen[2].content) == {"resourceType": "Parameters"}


def test_xml_response_is_accepted(make_runner: MakeRunner) -> None:
    xml = b'<Task xmlns="http://hl7.org/fhir"><id value="t1"/><status value="requested"/><intent value="order"/></Task>'
    runner = make_runner(
        lambda r: httpx.Response(200, content=xml, headers={"Content-Type": "application/fhir+xml"})
    )
    result = runner("read", "Task", "t1")
    assert result.resource.status == "requested"
    assert result.json["status"] == "requested"
    assert result.raw == xml


def test_stu3_client_parses_stu3_models(make_runner: MakeRunner) -> None:
    stu3 = {
        "resourceType": "Task",
        "id": "t",
        "status": "requested",
        "intent": "order",
        "requester": {"agent": {"display": "x"}},
    }
    result = make_runner(lambda r: fhir_response(200, stu3), version=FhirVersion.STU3)("read", "Task", "t")
    assert type(result.resource).__module__.startswith("fhir.resources.STU3")
    with pytest.raises(ModelValidationError):
        make_runner(lambda r: fhir_response(200, stu3))("read", "Task", "t")


def test_injected_client_and_auth_are_used() -> None:
    seen: list[httpx.Request] = []

    class Bearer(httpx.Auth):
        def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
            request.headers["Authorization"] = "Bearer token-value"
            yield request

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fhir_response(200, TASK)

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        fhir = FhirClient(BASE, client=http, auth=Bearer(), headers={"X-Trace": "1"})
        fhir.read("Task", "t1")
        fhir.close()
        assert not http.is_closed
    assert seen[0].headers["authorization"] == "Bearer token-value"
    assert seen[0].headers["x-trace"] == "1"


def test_response_size_cap(make_runner: MakeRunner) -> None:
    from twiin.errors import ResponseTooLarge

    runner = make_runner(lambda r: fhir_response(200, {**TASK, "description": "x" * 5000}), max_bytes=1000)
    with pytest.raises(ResponseTooLarge):
        runner("read", "Task", "t1")


def test_answer_of_the_wrong_resource_type_is_refused(make_runner: MakeRunner) -> None:
    runner = make_runner(lambda r: fhir_response(200, {"resourceType": "Patient", "id": "t1"}))
    with pytest.raises(ModelValidationError, match="expected a Task"):
        runner("read", "Task", "t1")


def test_injected_client_excludes_transport_options() -> None:
    from twiin.errors import ConfigurationError

    with httpx.Client() as http, pytest.raises(ConfigurationError):
        FhirClient(BASE, client=http, retry=RetryPolicy.disabled())


def test_history_url_pages(make_runner: MakeRunner) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        body = _searchset(0, 1, None)
        body["type"] = "history"
        return fhir_response(200, body)

    runner = make_runner(handler)
    pages = runner.collect("iter_pages", "Organization/_history?_since=2024-01-01T00:00:00Z")
    assert len(pages) == 1
    assert seen == [f"{BASE}/Organization/_history?_since=2024-01-01T00:00:00Z"]


def test_async_injected_client_and_auth_are_used() -> None:
    import anyio

    seen: list[httpx.Request] = []

    class Bearer(httpx.Auth):
        def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
            request.headers["Authorization"] = "Bearer token-value"
            yield request

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fhir_response(200, TASK)

    async def scenario() -> bool:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            async with AsyncFhirClient(BASE, client=http, auth=Bearer()) as fhir:
                await fhir.read("Task", "t1")
            return http.is_closed

    assert anyio.run(scenario) is False
    assert seen[0].headers["authorization"] == "Bearer token-value"


def test_from_endpoint_config() -> None:
    from twiin.config import EndpointConfig
    from twiin.errors import ConfigurationError

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fhir_response(200, {**TASK, "requester": {"agent": {"display": "x"}}})

    endpoint = EndpointConfig(BASE, fhir_version=FhirVersion.STU3, retry=RetryPolicy.disabled())
    with FhirClient.from_endpoint(endpoint, transport=httpx.MockTransport(handler)) as fhir:
        assert fhir.version is FhirVersion.STU3
        assert fhir.read("Task", "t1").resource.requester.agent.display == "x"
    with pytest.raises(ConfigurationError):
        AsyncFhirClient.from_endpoint(EndpointConfig(BASE))
