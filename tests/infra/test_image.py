"""The container image: runtime dependencies only, no tests or benchmarks, and the Teams package
command works from what the image holds (no tests/data).

There is no Docker daemon on CI machines, so the build context is computed here from .dockerignore
with Docker's matching rules, and the Dockerfile's requirement filter is run as the image runs it.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEV_ONLY = {"pytest", "pytest-asyncio", "pytest-xdist", "hypothesis", "playwright", "jsonschema"}
RUNTIME_CODE = ("app.py", "bot", "cards", "services")
APP_ID = "3f1c2a4e-1111-4222-8333-123456789abc"


def _pattern(text: str) -> re.Pattern[str]:
    """Docker's .dockerignore pattern (Go filepath.Match plus `**`) as a regex over a relative path."""
    out, i = "", 0
    while i < len(text):
        if text.startswith("**", i):
            out, i = out + ".*", i + 2
            if text.startswith("/", i):
                out, i = out + "(?:/|)", i + 1
            continue
        char = text[i]
        if char == "[":  # a character class is kept as it is: [cod]
            end = text.index("]", i)
            out, i = out + text[i:end + 1], end + 1
            continue
        out += "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char)
        i += 1
    return re.compile(out + r"\Z")


def ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((negated, _pattern(os.path.normpath(line.lstrip("!")).lstrip("/"))))
    return rules


def in_context(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """A file is left out when the last rule matching it (or a folder above it) is not a `!` rule."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for negated, pattern in rules:
        if any(pattern.match(prefix) for prefix in prefixes):
            excluded = not negated
    return not excluded


def build_context() -> list[str]:
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    rules = ignore_rules()
    return [path for path in files.splitlines() if (REPO / path).exists() and in_context(path, rules)]


def test_tests_and_benchmarks_stay_out_of_the_image() -> None:
    context = build_context()
    assert "app.py" in context and "config/beacon.yaml" in context and "requirements.txt" in context
    assert any(path.startswith("services/") for path in context)
    leaked = [path for path in context if path.split("/")[0] in ("tests", "bench", ".ci")]
    assert leaked == [], f"the image would hold {leaked[:5]}"
    assert "requirements-dev.txt" not in context


def runtime_requirements(tmp_path: Path) -> str:
    """Run the Dockerfile's own filter over requirements.txt, as `docker build` would."""
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    run = re.search(r"^RUN (grep [^\n]*requirements\.txt[^\n]*?) \\?\n", dockerfile, re.MULTILINE)
    assert run, "the Dockerfile installs requirements.txt without leaving out its -r lines"
    filter_command = run.group(1).split("&&")[0].strip()
    shutil.copy(REPO / "requirements.txt", tmp_path / "requirements.txt")
    output = tmp_path / "runtime.txt"
    command = filter_command.replace("/tmp/runtime-requirements.txt", str(output))
    subprocess.run(["sh", "-c", command], cwd=tmp_path, check=True)
    return output.read_text(encoding="utf-8")


def names(requirements: str) -> set[str]:
    found = set()
    for line in requirements.splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            found.add(re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].lower())
    return found


def test_the_image_installs_runtime_dependencies_only(tmp_path: Path) -> None:
    runtime = runtime_requirements(tmp_path)
    assert "-r" not in runtime
    assert names(runtime) & DEV_ONLY == set()
    assert {"botbuilder-core", "aiohttp", "sqlalchemy", "msgraph-sdk"} <= names(runtime)


def test_a_developer_still_gets_everything_from_requirements_txt() -> None:
    main = (REPO / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(r"^-r requirements-dev\.txt$", main, re.MULTILINE)
    dev = (REPO / "requirements-dev.txt").read_text(encoding="utf-8")
    assert DEV_ONLY <= names(dev)
    assert names(main) & DEV_ONLY == set(), "test tools listed among the runtime requirements"


def _module_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in tree.body:  # module level only: a lazy import inside a function is fine
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_runtime_code_needs_no_test_tool() -> None:
    dev_modules = {"pytest", "hypothesis", "playwright", "jsonschema", "xdist", "tests", "bench"}
    for root in RUNTIME_CODE:
        paths = [REPO / root] if root.endswith(".py") else sorted((REPO / root).rglob("*.py"))
        for path in paths:
            assert _module_imports(path) & dev_modules == set(), path.relative_to(REPO)


def test_the_package_command_runs_from_the_image_contents(tmp_path: Path) -> None:
    image = tmp_path / "app"
    for path in build_context():
        target = image / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / path, target)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MicrosoftApp", "BOT_", "BEACON_", "TEAMS_"))}
    env.update(PYTHONPATH=str(image), MicrosoftAppId=APP_ID, BOT_HOST="beacon.contoso.com")
    result = subprocess.run([sys.executable, "-m", "infra.teams.package"], cwd=work, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert (work / "dist" / "beacon-teams-app.zip").is_file()
