"""`python -m infra.teams.package`: a zip Teams accepts, or an error that names the setting to fix."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from infra.teams.package import PackageError, PackageSettings, build_package

REPO = Path(__file__).resolve().parents[2]
APP_ID = "3f1c2a4e-1111-4222-8333-123456789abc"
SETTING_NAMES = ("MicrosoftAppId", "MICROSOFT_APP_ID", "BOT_HOST", "BEACON_PUBLIC_URL", "TEAMS_APP_VERSION",
                 "TEAMS_DEVELOPER_NAME", "TEAMS_DEVELOPER_URL", "TEAMS_PRIVACY_URL", "TEAMS_TERMS_URL",
                 "TEAMS_SUPPORTS_CALLING", "GRAPH_ACCESS_TOKEN", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
                 "AZURE_TENANT_ID", "GRAPH_USE_MANAGED_IDENTITY")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting of the developer's shell or the repo's .env leaks into these tests."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def settings(**values: Any) -> PackageSettings:
    return PackageSettings(_env_file=None, **values)


def png_info(data: bytes) -> dict[str, object]:
    """IHDR fields, whether a tRNS chunk is present, and the decoded pixel rows (8-bit, non-interlaced)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    chunks: dict[bytes, bytes] = {}
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        idat += body if tag == b"IDAT" else b""
        chunks.setdefault(tag, body)
        pos += 12 + length
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    return {"width": width, "height": height, "depth": depth, "color_type": color_type,
            "interlace": interlace, "trns": b"tRNS" in chunks, "idat": idat}


def rgba_pixels(info: dict[str, object]) -> list[tuple[int, int, int, int]]:
    """Unfilter an 8-bit RGBA image (all five PNG filters), as a list of pixels."""
    assert info["color_type"] == 6 and info["depth"] == 8 and info["interlace"] == 0
    width, height, bpp = int(info["width"]), int(info["height"]), 4  # type: ignore[call-overload]
    raw = zlib.decompress(info["idat"])  # type: ignore[arg-type]
    stride, previous, pixels = width * bpp, bytearray(width * bpp), []
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, up_left = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 0xFF
        pixels += [tuple(line[i:i + 4]) for i in range(0, stride, 4)]
        previous = line
    return pixels  # type: ignore[return-value]


def test_package_has_manifest_and_icons_at_the_root(tmp_path: Path) -> None:
    out = build_package(settings(MicrosoftAppId=APP_ID, BEACON_PUBLIC_URL="https://beacon.contoso.com"),
                        tmp_path / "dist" / "app.zip")
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest_text = package.read("manifest.json").decode("utf-8")
        color, outline = package.read("color.png"), package.read("outline.png")
    assert re.findall(r"\{\{\w+\}\}", manifest_text) == [], "unfilled placeholders"
    manifest = json.loads(manifest_text)
    assert manifest["id"] == manifest["bots"][0]["botId"] == manifest["webApplicationInfo"]["id"] == APP_ID
    assert manifest["validDomains"] == ["beacon.contoso.com"]
    assert manifest["version"] == "1.0.0"
    assert (png_info(color)["width"], png_info(color)["height"]) == (192, 192)
    assert (png_info(outline)["width"], png_info(outline)["height"]) == (32, 32)


def test_supports_calling_when_ringing_is_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def bots(**values: str) -> list[dict[str, Any]]:
        out = build_package(settings(MicrosoftAppId=APP_ID, **values), tmp_path / "app.zip")
        return list(json.loads(zipfile.ZipFile(out).read("manifest.json"))["bots"])

    public = {"BEACON_PUBLIC_URL": "https://beacon.contoso.com"}
    assert "supportsCalling" not in bots(**public)[0]  # no Graph credentials: Beacon rings nobody
    monkeypatch.setenv("GRAPH_ACCESS_TOKEN", "a-token")
    assert bots(**public)[0]["supportsCalling"] is True and bots(**public)[0]["supportsVideo"] is False
    assert "supportsCalling" not in bots(**public, TEAMS_SUPPORTS_CALLING="false")[0]
    monkeypatch.delenv("GRAPH_ACCESS_TOKEN")
    assert bots(**public, TEAMS_SUPPORTS_CALLING="true")[0]["supportsCalling"] is True


def test_bot_host_wins_and_version_is_configurable(tmp_path: Path) -> None:
    out = build_package(settings(MicrosoftAppId=APP_ID.upper(), BOT_HOST="bot.example.org",
                                 BEACON_PUBLIC_URL="https://other.example.org", TEAMS_APP_VERSION="2.4.0"),
                        tmp_path / "app.zip")
    manifest = json.loads(zipfile.ZipFile(out).read("manifest.json"))
    assert manifest["validDomains"] == ["bot.example.org"]
    assert manifest["webApplicationInfo"]["resource"] == f"api://bot.example.org/{APP_ID}"
    assert manifest["version"] == "2.4.0"


def test_outline_icon_is_white_on_transparent() -> None:
    info = png_info((REPO / "infra" / "teams" / "outline.png").read_bytes())
    assert info["color_type"] in (4, 6) or info["trns"], "the outline icon needs an alpha channel or tRNS"
    if info["color_type"] != 6 or info["depth"] != 8:
        pytest.skip("the pixel check reads 8-bit RGBA only; the file has transparency, which Teams checks")
    pixels = rgba_pixels(info)
    assert pixels[0][3] == 0 and pixels[-1][3] == 0, "corners must be transparent"
    visible = [p for p in pixels if p[3] > 0]
    assert visible, "the outline icon is empty"
    assert {p[:3] for p in visible} == {(255, 255, 255)}, "Teams wants a white-only outline"


def test_color_icon_is_192_and_outline_32_on_disk() -> None:
    for name, size in (("color.png", 192), ("outline.png", 32)):
        info = png_info((REPO / "infra" / "teams" / name).read_bytes())
        assert (info["width"], info["height"]) == (size, size), name


def test_missing_app_id_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="MicrosoftAppId is empty"):
        build_package(settings(BOT_HOST="beacon.contoso.com"), tmp_path / "app.zip")
    assert not (tmp_path / "app.zip").exists()


@pytest.mark.parametrize(("values", "message"), [
    ({"MicrosoftAppId": "beacon-bot"}, "MicrosoftAppId='beacon-bot' is not a GUID"),
    ({"MicrosoftAppId": APP_ID}, "BOT_HOST is empty"),
    ({"MicrosoftAppId": APP_ID, "BOT_HOST": "http://beacon.contoso.com"}, "not a public https host"),
    ({"MicrosoftAppId": APP_ID, "BOT_HOST": "beacon.contoso.com", "TEAMS_APP_VERSION": "1.0"},
     "MAJOR.MINOR.PATCH"),
])
def test_bad_settings_are_named(tmp_path: Path, values: dict[str, str], message: str) -> None:
    with pytest.raises(PackageError, match=message):
        build_package(settings(**values), tmp_path / "app.zip")


def test_schema_error_reports_the_path(tmp_path: Path) -> None:
    too_long = "x" * 40  # developer.name is at most 32 characters
    with pytest.raises(PackageError, match=r"at \$\.developer\.name: .* is too long"):
        build_package(settings(MicrosoftAppId=APP_ID, BOT_HOST="beacon.contoso.com",
                               TEAMS_DEVELOPER_NAME=too_long), tmp_path / "app.zip")
    assert not (tmp_path / "app.zip").exists()


def run_module(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    clean["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "infra.teams.package"], cwd=tmp_path, env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_command_writes_dist_zip_and_says_where(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"MicrosoftAppId={APP_ID}\nBOT_HOST=beacon.contoso.com\n")
    result = run_module(tmp_path)
    assert result.returncode == 0, result.stderr
    zip_path = tmp_path / "dist" / "beacon-teams-app.zip"
    assert zip_path.is_file()
    assert str(zip_path.resolve()) in result.stdout


def test_command_without_app_id_fails_clearly(tmp_path: Path) -> None:
    result = run_module(tmp_path, BOT_HOST="beacon.contoso.com")
    assert result.returncode != 0
    assert "MicrosoftAppId is empty" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "dist").exists()
