"""The alert storm's floor (bench/serve.py) batches posts into transactions as Beacon's alert intake
does, and still stores every post it answers."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from bench.alert_storm import ENDPOINT, HEADERS, TOKEN, alert_body
from bench.serve import floor_app
from services.store.db import create_engine

POSTS = 20


async def test_the_floor_commits_posts_sent_together_in_a_few_transactions_and_keeps_each(tmp_path, monkeypatch):
    monkeypatch.setenv("ALERTS_WEBHOOK_TOKEN", TOKEN)
    database = f"sqlite+aiosqlite:///{tmp_path}/floor.db"
    commits: list[Any] = []

    def committed(connection: Any) -> None:
        commits.append(connection)

    async with TestClient(TestServer(floor_app(database))) as client:
        event.listen(Engine, "commit", committed)
        try:
            answers = await asyncio.gather(*(client.post(ENDPOINT, data=alert_body(n % 3, n), headers=HEADERS)
                                             for n in range(POSTS)))
        finally:
            event.remove(Engine, "commit", committed)
        assert [answer.status for answer in answers] == [200] * POSTS
        assert [(await answer.json())["received"] for answer in answers] == [1] * POSTS

    assert 1 <= len(commits) <= POSTS // 2, f"{len(commits)} commits for {POSTS} posts sent at once"
    engine = create_engine(database)
    async with engine.connect() as connection:
        stored = await connection.scalar(text("SELECT count(*) FROM floor_alerts"))
    await engine.dispose()
    assert stored == POSTS
