"""A real Beacon server on loopback, for end-to-end tests through HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from app import DEPS, SCHEDULER, WORKER, Overrides, create_app
from services.clock import SystemClock
from services.delivery import Paced
from services.settings import Settings
from services.store.tables import OutboxRow

PACED_HORIZON = 5.0  # seconds: a Teams turn this close is waited for by settle()


class BeaconServer:
    def __init__(self, settings: Settings, overrides: Overrides | None = None):
        self.settings = settings
        self.overrides = overrides
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> BeaconServer:
        self.app = create_app(self.settings, self.overrides)
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        if self._session:
            await self._session.close()
        if self._runner:
            await self._runner.cleanup()

    async def __aenter__(self) -> BeaconServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def deps(self) -> Any:
        assert self.app is not None
        return self.app[DEPS]

    @property
    def worker(self) -> Any:
        assert self.app is not None
        return self.app[WORKER]

    @property
    def scheduler(self) -> Any:
        assert self.app is not None
        return self.app[SCHEDULER]

    async def post(self, path: str, body: Any = None, *, raw: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        assert self._session is not None
        headers = {"Content-Type": "application/json", **(headers or {})}
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with self._session.post(self.url + path, headers=headers, **kwargs) as response:
            text = await response.text()
            try:
                payload: Any = await response.json(content_type=None) if text else None
            except ValueError:
                payload = text
            return response.status, payload

    async def activity(self, activity: dict[str, Any]) -> tuple[int, Any]:
        return await self.post("/api/messages", activity)

    async def get(self, path: str) -> tuple[int, Any]:
        assert self._session is not None
        async with self._session.get(self.url + path) as response:
            return response.status, await response.json(content_type=None)

    async def get_text(self, path: str) -> tuple[int, str]:
        assert self._session is not None
        async with self._session.get(self.url + path) as response:
            return response.status, await response.text()

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the outbox has nothing due or in flight (the background worker delivers). On
        the system clock, a post waiting a few seconds for its turn under Teams' limits (Paced) is
        still to go out: the test would otherwise look at the thread before it arrives. (On a fake
        clock its turn comes only when the test moves the clock.)"""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        real_time = isinstance(self.deps.clock, SystemClock)
        while loop.time() < deadline:
            async with self.deps.uow() as uow:
                now = self.deps.clock.now()
                due = now + timedelta(seconds=PACED_HORIZON) if real_time else now
                busy = await uow.session.scalar(select(func.count()).where(
                    (OutboxRow.status == "sending")
                    | ((OutboxRow.status == "pending") & (OutboxRow.next_attempt_at <= now))
                    | ((OutboxRow.status == "pending") & OutboxRow.last_error.startswith(f"{Paced.__name__}:")
                       & (OutboxRow.next_attempt_at <= due))))
            if not busy:
                return
            self.worker.wake()
            await asyncio.sleep(0.02)
        raise AssertionError(f"the outbox did not settle within {timeout} s")
