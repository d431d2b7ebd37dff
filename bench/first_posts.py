"""Commit to first post: for each incident an alert storm opened, the time from the commit that
opened it to the first Teams post about it that reached the fake Bot Connector (bench.alert_storm).

The commit's time is the incident's `declared_at` in Beacon's database (its first alert link's
`first_at` is the same moment): Beacon stamps it when the transaction that declares it begins,
so each latency also holds that transaction's own length and is, if anything, a little long. The
post's time is when its request reached the fake Bot Connector (its own clock, the same machine),
read back over HTTP (bench/serve.py `connector_app`, GET /bench/posts). The first post about an
incident is the first in its thread, i.e. its root card in the incidents channel. The storm's
pages go by SMS only (bench/first_pages.py times them), so no Teams post is a page.

Beacon paces each Teams conversation under TEAMS_CONVERSATION_LIMITS, root cards first, and every
storm incident's card goes to the one incidents channel. So the latency is split into what that
pacing alone imposes, the turn each root card would get if the cards were sent the moment Teams'
limits allow after their commits, in the order of the commits and after what Beacon had posted in
that channel before the storm (services/pacing.py), and Beacon's own delay beyond those turns:
the n-th card posted in a channel against the n-th turn there, since cards committed together may
go in any order among themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bench.common import percentile, read_back
from bench.serve import BENCH_POSTS
from services.pacing import Limit, next_turn

MEASURED = "the first Teams post about each incident (its root card in the incidents channel)"
COMMIT_TIME = "incidents.declared_at (stamped as the declaring transaction begins)"


@dataclass
class Opened:
    """An incident the storm opened: when it was committed, and where and when it was first posted."""

    incident_id: int
    declared_at: datetime
    channel: str = ""
    root: str = ""
    posted_at: datetime | None = None


async def opened_incidents(database: str) -> list[Opened]:
    """The storm's incidents in Beacon's database, with their incident thread where it exists yet."""
    from services.store.db import create_engine
    from services.store.tables import IncidentRow, ThreadRow

    engine = create_engine(database)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(
                select(IncidentRow.id, IncidentRow.declared_at, ThreadRow.channel_id, ThreadRow.root_activity_id)
                .outerjoin(ThreadRow, (ThreadRow.incident_id == IncidentRow.id) & (ThreadRow.purpose == "incident"))
                .where(IncidentRow.source == "alertmanager")
                .order_by(IncidentRow.declared_at, IncidentRow.id))).all()
    finally:
        await engine.dispose()
    return [Opened(i, declared, channel or "", root or "") for i, declared, channel, root in rows]


def first_post_times(posts: list[dict[str, Any]]) -> dict[str, datetime]:
    """Thread root id → when the first post in that thread (the root itself) reached the fake."""
    first: dict[str, datetime] = {}
    for post in posts:
        if not post["received_at"]:
            continue
        conversation, marker, root = str(post["conversation_id"]).partition(";messageid=")
        at = datetime.fromisoformat(post["received_at"])
        for key in {root if marker else "", post["id"]} - {""}:
            if key not in first or at < first[key]:
                first[key] = at
    return first


@dataclass
class Storm:
    """What the fake Bot Connector saw of the storm's incidents."""

    incidents: list[Opened]
    before: dict[str, list[datetime]]  # channel → posts there before the storm's first commit
    requests: int  # every request the fake answered (posts, updates, reads)


async def wait_for_first_posts(database: str, connector: str, timeout: float) -> Storm:
    """Every storm incident with the time of its first post, waiting up to `timeout` seconds for
    them all to be posted."""
    deadline = time.monotonic() + timeout
    while True:
        incidents = await opened_incidents(database)
        record = await read_back(connector, BENCH_POSTS)
        first = first_post_times(record["posts"])
        for incident in incidents:
            incident.posted_at = first.get(incident.root) if incident.root else None
        if all(i.posted_at for i in incidents) or time.monotonic() >= deadline:
            return Storm(incidents, posts_before(record["posts"], incidents), int(record["requests"]))
        await asyncio.sleep(1.0)


def posts_before(posts: list[dict[str, Any]], incidents: list[Opened]) -> dict[str, list[datetime]]:
    """The posts in each channel before the storm's first commit (e.g. Beacon's welcome when it
    was installed): they count against the same limits as the storm's cards."""
    start = min((i.declared_at for i in incidents), default=None)
    before: dict[str, list[datetime]] = {}
    for post in posts:
        at = datetime.fromisoformat(post["received_at"]) if post["received_at"] else None
        if start is not None and at is not None and at < start:
            before.setdefault(str(post["conversation_id"]).partition(";messageid=")[0], []).append(at)
    return {channel: sorted(times) for channel, times in before.items()}


def paced_turns(incidents: list[Opened], limits: tuple[Limit, ...],
                before: dict[str, list[datetime]]) -> dict[int, datetime]:
    """The earliest each root card could reach Teams under the per-conversation limits alone: sent
    at its commit, or at the first turn after the posts made in its channel before it (earlier
    storm cards, and what was posted there before the storm)."""
    booked = {channel: list(times) for channel, times in before.items()}
    # A card not posted yet has no thread: it would go where the others went (the incidents channel).
    usual = Counter(i.channel for i in incidents if i.channel).most_common(1)
    turns = {}
    for incident in sorted(incidents, key=lambda i: (i.declared_at, i.incident_id)):
        sends = booked.setdefault(incident.channel or (usual[0][0] if usual else ""), [])
        turns[incident.incident_id] = turn = next_turn(sends, incident.declared_at, limits)
        sends.append(turn)
    return turns


def beyond_turns(posted: list[Opened], turns: dict[int, datetime]) -> list[float]:
    """Seconds from each paced turn to the post that took it: per channel, the n-th post against the
    n-th turn."""
    channels: dict[str, tuple[list[datetime], list[datetime]]] = {}
    for incident in posted:
        assert incident.posted_at is not None
        made, due = channels.setdefault(incident.channel, ([], []))
        made.append(incident.posted_at)
        due.append(turns[incident.incident_id])
    return [(post - turn).total_seconds() for made, due in channels.values()
            for post, turn in zip(sorted(made), sorted(due), strict=True)]


def stats_ms(seconds: list[float]) -> dict[str, float]:
    return {"count": len(seconds), "p50_ms": percentile(seconds, 50) * 1000,
            "p99_ms": percentile(seconds, 99) * 1000, "max_ms": max(seconds, default=float("nan")) * 1000}


def commit_to_first_post(storm: Storm, limits: tuple[Limit, ...], ended: datetime) -> dict[str, Any]:
    """Latency from commit to first post, and its split into pacing and Beacon's own delay. An
    incident not posted by `ended` counts with `ended` as its post time (so its latency is a floor)."""
    incidents = storm.incidents
    posted = [i for i in incidents if i.posted_at]
    turns = paced_turns(incidents, limits, storm.before)
    latency = [((i.posted_at or ended) - i.declared_at).total_seconds() for i in incidents]
    paced = [(turns[i.incident_id] - i.declared_at).total_seconds() for i in incidents]
    own = beyond_turns(posted, turns)
    unpaced = [(i.posted_at - i.declared_at).total_seconds() for i in posted
               if i.posted_at and turns[i.incident_id] == i.declared_at]
    return {"measured": MEASURED, "commit_time": COMMIT_TIME, "incidents": len(incidents),
            "posted": len(posted), "not_posted": len(incidents) - len(posted), **stats_ms(latency),
            "limits": ",".join(f"{limit.most}/{limit.per.total_seconds():g}s" for limit in limits) or "unpaced",
            "channels": len({i.channel for i in posted}), "posts_before": sum(map(len, storm.before.values())),
            # what Teams' limits alone would give, and what Beacon adds beyond those turns
            "pacing_alone": stats_ms(paced), "beyond_pacing": stats_ms(own),
            # the cards whose turn came at their commit: Beacon's delay with no pacing in the way
            "not_held_by_pacing": stats_ms(unpaced),
            "each": [{"incident": i.incident_id, "declared_at": i.declared_at.isoformat(),
                      "paced_turn": turns[i.incident_id].isoformat(),
                      "posted_at": i.posted_at.isoformat() if i.posted_at else None} for i in incidents]}


def describe(result: dict[str, Any]) -> str:
    def line(stats: dict[str, float]) -> str:
        return f"p50 {stats['p50_ms']:.0f} ms, p99 {stats['p99_ms']:.0f} ms, max {stats['max_ms']:.0f} ms"

    missing = (f"; {result['not_posted']} not posted when the wait ended (counted then)"
               if result["not_posted"] else "")
    return "\n".join([
        f"commit to first post: {line(result)} over {result['incidents']} incidents{missing}",
        f"  measured: {result['measured']}; commit time: {result['commit_time']}",
        f"  Teams' limits ({result['limits']}) alone, after {result['posts_before']} earlier post(s) in the channel: "
        f"{line(result['pacing_alone'])}",
        f"  Beacon beyond the paced turns (n-th card against n-th turn): {line(result['beyond_pacing'])}",
        f"  the {result['not_held_by_pacing']['count']} cards pacing did not hold: "
        f"{line(result['not_held_by_pacing'])}",
    ])
