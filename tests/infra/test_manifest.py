"""The Teams app manifest: valid against the official schema for its version, and what Beacon needs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT4

from infra.teams.package import fill_manifest

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "infra" / "teams" / "manifest.json"
DATA = REPO / "infra" / "teams"  # the official schemas ship beside the template
APP_ID = "3f1c2a4e-1111-4222-8333-123456789abc"
HOST = "beacon.contoso.com"
SITE = f"https://{HOST}/"
VALUES = {"MICROSOFT_APP_ID": APP_ID, "BOT_HOST": HOST, "APP_VERSION": "1.2.3",
          "DEVELOPER_NAME": "Contoso IT", "DEVELOPER_URL": SITE, "PRIVACY_URL": SITE, "TERMS_URL": SITE}
COMMANDS = {"declare", "drill", "list", "show", "actions", "metrics", "oncall", "page", "help"}
SCHEMA_URL = "https://developer.microsoft.com/json-schemas/teams/v{version}/MicrosoftTeams.schema.json"


def _offline(uri: str) -> Resource[Any]:
    """Every $ref must resolve from the bundled schemas, never from the network."""
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


def schema_registry() -> Registry[Any]:
    """Each bundled Teams schema under the URL it is published at, so $refs resolve offline."""
    registry: Registry[Any] = Registry(retrieve=_offline)  # type: ignore[call-arg]
    for path in DATA.glob("teams-manifest-v*.schema.json"):
        version = path.name.removeprefix("teams-manifest-v").removesuffix(".schema.json")
        resource = DRAFT4.create_resource(json.loads(path.read_text(encoding="utf-8")))
        registry = registry.with_resource(SCHEMA_URL.format(version=version), resource)
    return registry


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return json.loads(TEMPLATE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return fill_manifest(TEMPLATE.read_text(encoding="utf-8"), VALUES)


@pytest.fixture(scope="module")
def schema(template: dict[str, Any]) -> dict[str, Any]:
    path = DATA / f"teams-manifest-v{template['manifestVersion']}.schema.json"
    assert path.is_file(), f"ship the official Teams schema for {template['manifestVersion']} at {path}"
    return json.loads(path.read_text(encoding="utf-8"))


def validator(schema: dict[str, Any]) -> Draft4Validator:
    cls = validator_for(schema)
    assert cls is Draft4Validator, "the Teams manifest schemas are JSON Schema draft-04"
    return cls(schema, registry=schema_registry())


def test_template_names_the_schema_of_its_version(template: dict[str, Any], schema: dict[str, Any]) -> None:
    version = template["manifestVersion"]
    assert template["$schema"] == SCHEMA_URL.format(version=version)
    assert schema["properties"]["manifestVersion"]["const"] == version


def test_filled_manifest_validates_against_the_official_schema(manifest: dict[str, Any],
                                                               schema: dict[str, Any]) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in validator(schema).iter_errors(manifest)]
    assert errors == []
    # The same, reached through the manifest's own "$schema" URL: resolved from the bundled schema, offline.
    by_url = Draft4Validator({"$ref": manifest["$schema"]}, registry=schema_registry())
    assert [e.message for e in by_url.iter_errors(manifest)] == []


def test_schema_really_checks(manifest: dict[str, Any], schema: dict[str, Any]) -> None:
    broken = {**manifest, "id": "not-a-guid", "accentColor": "red"}
    broken.pop("developer")
    paths = {e.json_path for e in validator(schema).iter_errors(broken)}
    assert {"$", "$.id", "$.accentColor"} <= paths


def test_every_placeholder_is_filled(manifest: dict[str, Any]) -> None:
    assert re.findall(r"\{\{\w+\}\}", json.dumps(manifest)) == []
    assert manifest["id"] == APP_ID and manifest["version"] == "1.2.3"


def test_bot_in_team_personal_and_group_chat(manifest: dict[str, Any]) -> None:
    (bot,) = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert set(bot["scopes"]) == {"team", "personal", "groupChat"}


def test_command_lists_offer_every_command_in_every_scope(manifest: dict[str, Any]) -> None:
    (bot,) = manifest["bots"]
    for scope in bot["scopes"]:
        lists = [lst for lst in bot["commandLists"] if scope in lst["scopes"]]
        titles = [command["title"] for lst in lists for command in lst["commands"]]
        assert sorted(titles) == sorted(COMMANDS), scope
    for command_list in bot["commandLists"]:
        for command in command_list["commands"]:
            assert command["description"].strip(), command["title"]
    show = next(c for lst in bot["commandLists"] for c in lst["commands"] if c["title"] == "show")
    assert "INC-" in show["description"]  # an example people can copy


def test_declare_incident_message_action(manifest: dict[str, Any]) -> None:
    (extension,) = manifest["composeExtensions"]
    assert extension["botId"] == APP_ID
    (command,) = [c for c in extension["commands"] if c["id"] == "declareIncident"]
    assert command["type"] == "action"
    assert command["title"] == "Declare incident"
    assert command["context"] == ["message"]
    assert command["fetchTask"] is True


def test_web_application_info_and_valid_domains(manifest: dict[str, Any]) -> None:
    assert manifest["webApplicationInfo"] == {"id": APP_ID, "resource": f"api://{HOST}/{APP_ID}"}
    assert manifest["validDomains"] == [HOST]


def test_only_the_resource_specific_permissions_beacon_uses(manifest: dict[str, Any]) -> None:
    """Beacon posts and reads members through the bot (Bot Framework) and acts only on @mentions; the
    one consent a team owner gives at install is Channel.Create.Group, so that Beacon can make a
    big incident's own channel in that team (channels.dedicated_for) without a tenant-wide
    Channel.Create. (Asking for ChannelMessage.Read.Group would also make Teams deliver every
    channel message.)"""
    granted = manifest.get("authorization", {}).get("permissions", {}).get("resourceSpecific", [])
    assert granted == [{"name": "Channel.Create.Group", "type": "Application"}]


def test_icons_are_the_files_shipped(manifest: dict[str, Any]) -> None:
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    for name in manifest["icons"].values():
        assert (TEMPLATE.parent / name).is_file()


def test_every_manifest_command_is_one_the_bot_answers(manifest: dict[str, Any]) -> None:
    commands = pytest.importorskip("bot.commands")
    answered = set(commands.COMMAND_NAMES)
    offered = {c["title"] for lst in manifest["bots"][0]["commandLists"] for c in lst["commands"]}
    assert offered <= answered, f"the manifest offers commands the bot does not answer: {offered - answered}"
