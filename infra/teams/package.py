"""Build the Teams app package: `python -m infra.teams.package` writes dist/beacon-teams-app.zip.

The template beside this file (manifest.json) has {{PLACEHOLDERS}}; they are filled from settings
(environment variables or `.env`, the same names Beacon itself reads):

  MicrosoftAppId            required: the bot's Entra application (client) id, a GUID
  BOT_HOST                  the public host Teams reaches Beacon at, e.g. beacon.contoso.com
  BEACON_PUBLIC_URL         or the public URL, e.g. https://beacon.contoso.com (used when BOT_HOST is empty)
  TEAMS_APP_VERSION         optional, default 1.0.0; raise it for every upload of a changed package
  TEAMS_DEVELOPER_NAME, TEAMS_DEVELOPER_URL, TEAMS_PRIVACY_URL, TEAMS_TERMS_URL
                            optional: who publishes the app in your tenant (default: Beacon, the public URL)
  TEAMS_SUPPORTS_CALLING    optional true/false; empty: true when ringing responders is on (Graph
                            credentials, MicrosoftAppId and BEACON_PUBLIC_URL are all set), since
                            Teams lets a bot place calls only when its manifest says supportsCalling

The filled manifest is checked against the official Teams schema for its manifestVersion before
the zip is written, so an invalid package is never produced.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "manifest.json"
ICONS = {"color.png": 192, "outline.png": 32}
DEFAULT_OUTPUT = Path("dist") / "beacon-teams-app.zip"
# The official schema of each manifestVersion we ship, beside the template: the command needs no
# network and nothing outside infra/ (tests/ stays out of the container image).
SCHEMA_DIR = HERE

PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")  # Teams: MAJOR.MINOR.PATCH only
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
HOST = re.compile(rf"^{_LABEL}(\.{_LABEL})*(:\d+)?$")


class PackageError(Exception):
    """Something the person building the package must fix; the message says what and how."""


class PackageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    app_id: str = Field("", validation_alias=AliasChoices("MicrosoftAppId", "MICROSOFT_APP_ID"))
    bot_host: str = Field("", validation_alias="BOT_HOST")
    public_url: str = Field("", validation_alias="BEACON_PUBLIC_URL")
    app_version: str = Field("1.0.0", validation_alias="TEAMS_APP_VERSION")
    developer_name: str = Field("Beacon", validation_alias="TEAMS_DEVELOPER_NAME")
    developer_url: str = Field("", validation_alias="TEAMS_DEVELOPER_URL")
    privacy_url: str = Field("", validation_alias="TEAMS_PRIVACY_URL")
    terms_url: str = Field("", validation_alias="TEAMS_TERMS_URL")
    supports_calling: bool | None = Field(None, validation_alias="TEAMS_SUPPORTS_CALLING")


def ringing_enabled(settings: PackageSettings, graph: Any = None) -> bool:
    """Whether Beacon will ring responders through Graph (bot/bridge: Graph calling + a public URL)."""
    if settings.supports_calling is not None:
        return settings.supports_calling
    from services.graph.settings import GraphSettings  # pydantic only: no Graph SDK at packaging time

    graph = graph or GraphSettings()
    return bool(graph.configured and (graph.caller_app_id or settings.app_id) and settings.public_url.strip())


def public_host(settings: PackageSettings) -> str:
    """BOT_HOST, or the host of BEACON_PUBLIC_URL; either may be written with or without https://."""
    raw = (settings.bot_host or settings.public_url).strip()
    if not raw:
        raise PackageError("BOT_HOST is empty (and so is BEACON_PUBLIC_URL): set BOT_HOST to the public host "
                           "Teams reaches Beacon at, e.g. BOT_HOST=beacon.contoso.com")
    name = "BOT_HOST" if settings.bot_host.strip() else "BEACON_PUBLIC_URL"
    parts = urlsplit(raw if "://" in raw else f"https://{raw}")
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    if parts.scheme != "https" or not HOST.match(host) or parts.path not in ("", "/"):
        raise PackageError(f"{name}={raw!r} is not a public https host: use a host name such as "
                           "beacon.contoso.com or a URL such as https://beacon.contoso.com")
    return host


def placeholder_values(settings: PackageSettings) -> dict[str, str]:
    app_id = settings.app_id.strip()
    if not app_id:
        raise PackageError("MicrosoftAppId is empty: set MicrosoftAppId (environment or .env) to the "
                           "application (client) id of Beacon's Azure Bot registration")
    if not GUID.match(app_id):
        raise PackageError(f"MicrosoftAppId={app_id!r} is not a GUID such as "
                           "00000000-0000-0000-0000-000000000000")
    if not SEMVER.match(settings.app_version.strip()):
        raise PackageError(f"TEAMS_APP_VERSION={settings.app_version!r} must be MAJOR.MINOR.PATCH, "
                           "e.g. 1.0.3")
    host = public_host(settings)
    site = f"https://{host}/"
    return {
        "MICROSOFT_APP_ID": app_id.lower(),
        "BOT_HOST": host,
        "APP_VERSION": settings.app_version.strip(),
        "DEVELOPER_NAME": settings.developer_name.strip() or "Beacon",
        "DEVELOPER_URL": settings.developer_url.strip() or site,
        "PRIVACY_URL": settings.privacy_url.strip() or site,
        "TERMS_URL": settings.terms_url.strip() or site,
    }


def fill_manifest(template: str, values: dict[str, str]) -> dict[str, Any]:
    """Replace every {{NAME}} inside the template's JSON strings; fail on any left unfilled."""
    missing = sorted({name for name in PLACEHOLDER.findall(template) if name not in values})
    if missing:
        raise PackageError(f"manifest template has placeholders with no value: {', '.join(missing)}")
    # Values land inside JSON strings, so escape them as JSON string content.
    filled = PLACEHOLDER.sub(lambda m: json.dumps(values[m.group(1)])[1:-1], template)
    manifest: dict[str, Any] = json.loads(filled)
    return manifest


def schema_path(manifest: dict[str, Any], schema_dir: Path = SCHEMA_DIR) -> Path:
    version = manifest.get("manifestVersion", "")
    path = schema_dir / f"teams-manifest-v{version}.schema.json"
    if not path.is_file():
        raise PackageError(f"no Teams manifest schema for manifestVersion {version!r} at {path}")
    return path


def validate_manifest(manifest: dict[str, Any], schema: dict[str, Any]) -> None:
    """Check against the official schema (JSON Schema draft-04); refs are local, nothing is fetched."""
    from jsonschema import Draft4Validator

    errors = sorted(Draft4Validator(schema).iter_errors(manifest), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  at {e.json_path}: {e.message}" for e in errors[:10]]
        raise PackageError(f"the filled manifest does not match the Teams {manifest.get('manifestVersion')} "
                           "schema:\n" + "\n".join(lines))


def png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def read_icons(directory: Path = HERE) -> dict[str, bytes]:
    icons = {}
    for name, size in ICONS.items():
        path = directory / name
        try:
            data = path.read_bytes()
            actual = png_size(data)
        except (OSError, ValueError) as error:
            raise PackageError(f"{path}: {error} (regenerate with python -m infra.teams.icons)") from error
        if actual != (size, size):
            raise PackageError(f"{path} is {actual[0]}×{actual[1]}; Teams needs {size}×{size}")
        icons[name] = data
    return icons


def build_package(settings: PackageSettings, output: Path = DEFAULT_OUTPUT,
                  schema_dir: Path = SCHEMA_DIR, graph: Any = None) -> Path:
    """Fill, validate and zip; returns the path of the zip. Raises PackageError."""
    manifest = fill_manifest(TEMPLATE.read_text(encoding="utf-8"), placeholder_values(settings))
    if ringing_enabled(settings, graph):
        for bot in manifest["bots"]:
            bot.update(supportsCalling=True, supportsVideo=False)  # audio calls only
    schema = json.loads(schema_path(manifest, schema_dir).read_text(encoding="utf-8"))
    validate_manifest(manifest, schema)
    icons = read_icons()
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        for name, data in icons.items():
            package.writestr(name, data)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.teams.package",
                                     description="Build Beacon's Teams app package (manifest and icons).")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"where to write the zip (default: {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)
    try:
        path = build_package(PackageSettings(), args.output)
    except PackageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path.resolve()}: upload it in Teams (Apps → Manage your apps → Upload an app) "
          "or to the Teams admin center")
    return 0


if __name__ == "__main__":
    sys.exit(main())
