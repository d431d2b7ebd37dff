"""docs/openapi.yaml: valid OpenAPI 3.1, every route of the app described and nothing else, and the
payloads the tests send (real samples of each sender) valid against the schemas it documents."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from app import Overrides, create_app
from services.settings import Settings
from tests.e2e.conftest import unconfigured

REPO = Path(__file__).resolve().parents[2]
DOCUMENT = REPO / "docs" / "openapi.yaml"
DATA = REPO / "tests" / "data"
OPENAPI_SCHEMA = DATA / "openapi-3.1.schema.json"  # https://spec.openapis.org/oas/3.1/schema/2022-10-07
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
ROOT = "urn:beacon:openapi"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def openapi_validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(OPENAPI_SCHEMA.read_text(encoding="utf-8")))


def described(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): operation for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS}


def app_routes(tmp_path: Path, app_id: str) -> tuple[set[tuple[str, str]], set[str]]:
    """(method, path) of every route, and the paths of routes that take any method. HEAD is left out:
    aiohttp adds it to every GET."""
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'routes.db'}",  # type: ignore[call-arg]
                        app_id=app_id, app_password="secret" if app_id else "",
                        app_tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47" if app_id else "")
    app = create_app(settings, Overrides(outside=unconfigured(), start_worker=False))
    exact, any_method = set(), set()
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        path = resource.canonical + ("/{filename}" if isinstance(resource, web.StaticResource) else "")
        if route.method == "*":
            any_method.add(path)
        elif route.method != "HEAD":
            exact.add((route.method.lower(), path))
    return exact, any_method


def schemas_in(node: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Every Schema Object of the document: under `schema` keys and in components.schemas."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema" or where.endswith("/components/schemas"):
                yield f"{where}/{key}", value
            if key != "schema":
                yield from schemas_in(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from schemas_in(value, f"{where}/{i}")


def refs_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def validator(document: dict[str, Any], schema: Any) -> Draft202012Validator:
    """A validator for a schema of the document, its "#/…" $refs resolved within the document."""
    registry: Registry[Any] = Registry().with_resource(ROOT, DRAFT202012.create_resource(document))
    return Draft202012Validator(json.loads(json.dumps(schema).replace('"$ref": "#/', f'"$ref": "{ROOT}#/')),
                                registry=registry)


def validator_of(document: dict[str, Any], name: str) -> Draft202012Validator:
    return validator(document, {"$ref": f"#/components/schemas/{name}"})


# -- the document ----------------------------------------------------------------------------

def test_the_document_is_valid_openapi_3_1(document: dict[str, Any], openapi_validator: Draft202012Validator) -> None:
    assert document["openapi"].startswith("3.1.")
    problems = [f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
                for error in openapi_validator.iter_errors(document)]
    assert not problems, problems


def test_the_openapi_schema_really_checks(document: dict[str, Any], openapi_validator: Draft202012Validator) -> None:
    broken = copy.deepcopy(document)
    del broken["paths"]["/api/messages"]["post"]["responses"]
    broken["paths"]["/healthz"]["get"]["parameters"] = [{"name": "x", "in": "body"}]
    assert len(list(openapi_validator.iter_errors(broken))) >= 2


def test_every_schema_object_is_json_schema_2020_12(document: dict[str, Any]) -> None:
    found = list(schemas_in(document))
    assert len(found) > 40
    for where, schema in found:
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as error:  # the schema error, with where it is
            raise AssertionError(f"{where}: {error}") from None


def test_every_ref_points_into_the_document(document: dict[str, Any]) -> None:
    for ref in set(refs_in(document)):
        assert ref.startswith("#/"), ref
        node: Any = document
        for step in ref[2:].split("/"):
            assert isinstance(node, dict) and step in node, f"{ref} does not resolve"
            node = node[step]


def test_every_operation_says_what_its_errors_look_like(document: dict[str, Any]) -> None:
    for (method, path), operation in described(document).items():
        assert operation.get("summary") and operation.get("operationId"), (method, path)
        assert any(status.startswith("2") for status in operation["responses"]), (method, path)
        for status, response in operation["responses"].items():
            response = resolve(document, response)
            assert response.get("description"), (method, path, status)
            json_body = response.get("content", {}).get("application/json", {}).get("schema")
            if status.startswith("4") and path != "/playground/connector/{tail}" and "content" in response:
                assert json_body == {"$ref": "#/components/schemas/Error"}, (method, path, status)


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for step in node["$ref"][2:].split("/"):
            target = target[step]
        node = target
    return node


def test_every_example_matches_its_schema(document: dict[str, Any]) -> None:
    checked = 0
    for operation in described(document).values():
        bodies = [operation.get("requestBody", {})] + [resolve(document, response)
                                                       for response in operation["responses"].values()]
        for media in (media for body in bodies for media in body.get("content", {}).values()):
            examples = ([media["example"]] if "example" in media else []) + [
                example["value"] for example in media.get("examples", {}).values()]
            for example in examples:
                validator(document, media.get("schema", {})).validate(example)
                checked += 1
    assert checked >= 15


# -- the document and the app agree -------------------------------------------------------------

def test_every_route_is_described_and_every_description_is_a_route(document: dict[str, Any], tmp_path: Path) -> None:
    exact, any_method = app_routes(tmp_path, app_id="")  # the playground is served too
    operations = set(described(document))
    assert exact - operations == set(), "routes missing from docs/openapi.yaml"
    assert {path for path in any_method if not any(p == path for _, p in operations)} == set()
    assert {(method, path) for method, path in operations
            if (method, path) not in exact and path not in any_method} == set(), "described but not served"


def test_with_a_bot_registration_only_the_playground_is_gone(document: dict[str, Any], tmp_path: Path) -> None:
    exact, any_method = app_routes(tmp_path, app_id="3f1c2a4e-1111-4222-8333-123456789abc")
    production = {key for key, operation in described(document).items() if "playground" not in operation["tags"]}
    assert exact == production and not any_method


# -- the schemas take what the senders send -----------------------------------------------------

@pytest.mark.parametrize("sample, schema", [
    *[(path.name, "AlertmanagerWebhook") for path in sorted((DATA / "alerts").glob("alertmanager_*.json"))],
    *[(path.name, "GrafanaWebhook") for path in sorted((DATA / "alerts").glob("grafana_*.json"))],
    *[(path.name, "AzureMonitorCommonAlert") for path in sorted((DATA / "alerts").glob("azure_monitor_*.json"))],
    *[(path.name, "Activity") for path in sorted((DATA / "teams").glob("*.json"))],
])
def test_real_payloads_match_the_documented_schema(document: dict[str, Any], sample: str, schema: str) -> None:
    folder = "teams" if schema == "Activity" else "alerts"
    payload = json.loads((DATA / folder / sample).read_text(encoding="utf-8"))
    if schema == "Activity":  # one published sample leaves the envelope's serviceUrl out
        payload.setdefault("serviceUrl", "https://smba.trafficmanager.net/emea/")
    validator_of(document, schema).validate(payload)


def test_graph_and_freshdesk_bodies_match_the_documented_schema(document: dict[str, Any]) -> None:
    call = "2e1a0b00-b3c5-4b0f-99b3-c133bc1e6116"
    established = {"@odata.type": "#microsoft.graph.commsNotifications", "value": [{
        "@odata.type": "#microsoft.graph.commsNotification", "changeType": "updated",
        "resourceUrl": f"/communications/calls/{call}", "callbackUri": "https://bot.contoso.com/callback",
        "resourceData": {"@odata.type": "#microsoft.graph.call", "state": "established", "direction": "outgoing",
                         "id": call}}]}
    validator_of(document, "CommsNotifications").validate(established)
    validator_of(document, "FreshdeskTicketWebhook").validate(
        {"ticket_id": "123", "subject": "Checkout down", "description": "<div>It fails</div>", "priority": "4",
         "requester_email": "dana@contoso.com", "company": "Contoso", "tags": "checkout, payments", "url": ""})


def test_the_schemas_refuse_what_beacon_refuses(document: dict[str, Any]) -> None:
    refused = [("AlertmanagerWebhook", {"version": "1", "status": "firing", "alerts": []}),
               ("AzureMonitorCommonAlert", {"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {
                   "alertId": "", "alertRule": "r", "severity": "Sev0", "monitorCondition": "Fired",
                   "firedDateTime": None}}}),
               ("FreshdeskTicketWebhook", {"subject": "no ticket id"}),
               ("CommsNotifications", {"value": []}),
               ("Activity", {"type": "message", "serviceUrl": "https://x", "from": {}, "conversation": {"id": "c"}})]
    for name, payload in refused:
        assert not validator_of(document, name).is_valid(payload), name
