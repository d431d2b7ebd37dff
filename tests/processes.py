"""Beacon as a real operating-system process, and a private PostgreSQL server, for the tests that
kill, restart or starve them: `kill -9` during work, several replicas on one database, the
database going away.

    async with BeaconProcess(tmp_path, database_url, config) as beacon:
        await beacon.post("/api/alerts/alertmanager", body, headers=...)
        beacon.kill()              # SIGKILL: no shutdown hook runs
        await beacon.start()       # the same database, a new process

Each process reads only what the test gives it: its environment is cleared of every variable
Beacon reads, and it runs in its own directory, so a developer's .env does not leak in.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[1]
# Prefixes and names of the variables Beacon's settings read (README "Configuration").
BEACON_VARIABLES = ("MicrosoftApp", "MICROSOFT_APP", "GRAPH_", "AZURE_", "MAIL_", "SMS_", "ACS_", "TWILIO_",
                    "FRESHDESK_", "ALERTS_", "DATABASE_URL", "BEACON_", "REPORT_", "REVIEW_", "ACTION_",
                    "OUTBOX_", "SCHEDULER_", "ACK_", "VOICE_", "ONCALL_FEED_", "SHUTDOWN_", "LOG_",
                    "ALLOWED_TENANT_IDS", "APPLICATIONINSIGHTS_", "TEAMS_",
                    "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL", "HOST", "PORT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BeaconProcess:
    """`python app.py` on loopback with the given database, config (a dict written as YAML) and
    extra environment. Fast outbox and scheduler polling, as in the in-process end-to-end tests."""

    def __init__(self, workdir: Path, database_url: str, config: dict[str, Any], *, name: str = "beacon",
                 **environment: str):
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        config_path = self.workdir / "beacon.yaml"
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.environment = {
            "DATABASE_URL": database_url, "BEACON_CONFIG": str(config_path), "HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING", "OUTBOX_BASE_BACKOFF_SECONDS": "0.05", "OUTBOX_IDLE_POLL_SECONDS": "0.2",
            "SCHEDULER_IDLE_POLL_SECONDS": "0.5", "SHUTDOWN_GRACE_SECONDS": "5",
            "TEAMS_CONVERSATION_LIMITS": "",  # storms faster than Teams allows: see tests/e2e/conftest.py
            **environment}
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.starts = 0
        self._session: aiohttp.ClientSession | None = None

    def _env(self, port: int) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(BEACON_VARIABLES)}
        return {**inherited, "PYTHONPATH": str(ROOT), **self.environment, "PORT": str(port)}

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}-{self.starts}.log"

    async def start(self, timeout: float = 60) -> BeaconProcess:
        self.starts += 1
        port = free_port()
        with self.log_path.open("wb") as log:
            # Popen returns once the child exists; the wait for it is the /healthz poll below.
            self.process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=self.workdir,  # noqa: ASYNC220
                                            env=self._env(port), stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                async with self._session.get(self.url + "/healthz") as response:
                    if response.status == 200:
                        return self
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name} did not answer /healthz within {timeout} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob(f"{self.name}-*.log")))

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    async def stop(self) -> None:
        """SIGTERM: a graceful shutdown (deliveries in flight finish)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 30)
            except subprocess.TimeoutExpired:
                self.kill()

    async def close(self) -> None:
        self.kill()
        if self._session:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> BeaconProcess:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(self, method: str, path: str, body: Any = None,
                      headers: dict[str, str] | None = None) -> tuple[int, Any]:
        assert self._session is not None
        async with self._session.request(method, self.url + path, json=body, headers=headers) as response:
            text = await response.text()
            try:
                return response.status, (await response.json(content_type=None)) if text else None
            except ValueError:
                return response.status, text

    async def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return await self.request("POST", path, body, headers)

    async def get(self, path: str) -> tuple[int, Any]:
        return await self.request("GET", path)


class PrivatePostgres:
    """A PostgreSQL server of the test's own (initdb in a temporary directory, its own port), so a
    test can stop it and start it again without touching the shared server."""

    def __init__(self) -> None:
        # Its own directory straight under the system temp dir: pytest's tmp_path tree is private
        # to root, and pytest makes it private again whenever another run starts.
        self.directory = Path(tempfile.mkdtemp(prefix="beacon-pg-"))
        self.data = self.directory / "pgdata"
        self.port = free_port()
        self.bin = self._find_bin()

    @staticmethod
    def _find_bin() -> Path | None:
        found = shutil.which("pg_ctl")
        if found:
            return Path(found).parent
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        return versions[-1].parent if versions else None

    @staticmethod
    def unavailable() -> str:
        if PrivatePostgres._find_bin() is None:
            return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            return "running as root without runuser: initdb refuses to run as root"
        return ""

    def _run(self, *command: str) -> None:
        assert self.bin is not None
        argv = [str(self.bin / command[0]), *command[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root; run it as the postgres user
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")

    def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "server.log"), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop()
        except AssertionError:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
