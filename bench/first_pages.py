"""Commit to first page: for each incident an alert storm opened, the time from the commit that
opened it to the first SMS page about it that reached the fake Twilio (bench.alert_storm), and to
whichever came first of that page and the incident's first Teams post (bench/first_posts.py).

The commit's time is the incident's `declared_at`, as for the first post. The page's time is when
the fake Twilio, in a process of its own, accepted the message (bench/serve.py `sms_app`, GET
/bench/sms); the page names its incident first ("INC-12 P3: …"). Pages are outbox effects with
ordering keys of their own and no per-conversation pacing, so they should not wait behind the
incidents channel's paced root cards. The fake answers at once, as Twilio's API does: it queues
messages and hands them to carriers at the sender's own rate (one segment a second from a US long
code, over 100 from a short code: Twilio error 30001's documentation), so what is timed is Twilio
accepting the page, not the phone receiving it.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.common import read_back
from bench.first_posts import Opened, opened_incidents, stats_ms
from bench.serve import BENCH_SMS

PAGED_INCIDENT = re.compile(r"^(?:DRILL )?INC-(\d+)\b")
MEASURED_PAGE = "the first SMS page about each incident accepted by the fake Twilio (level 1 of the storm's policy)"


@dataclass
class Pages:
    """When the fake Twilio first accepted a page about each incident, and what else it saw."""

    first: dict[int, datetime]  # incident id → first page's time
    messages: int  # every message accepted
    requests: int  # every Twilio API request (sends and refusals)


def first_page_times(messages: list[dict[str, Any]]) -> dict[int, datetime]:
    """Incident id → when the first message naming it reached the fake."""
    first: dict[int, datetime] = {}
    for message in messages:
        named = PAGED_INCIDENT.match(str(message["text"]))
        if named is None:
            continue
        incident, at = int(named.group(1)), datetime.fromisoformat(message["received_at"])
        if incident not in first or at < first[incident]:
            first[incident] = at
    return first


async def wait_for_first_pages(database: str, sms: str, timeout: float) -> Pages:
    """The first page of every storm incident, waiting up to `timeout` seconds for them all."""
    deadline = time.monotonic() + timeout
    while True:
        incidents = await opened_incidents(database)
        record = await read_back(sms, BENCH_SMS)
        first = first_page_times(record["messages"])
        if all(i.incident_id in first for i in incidents) or time.monotonic() >= deadline:
            return Pages(first, len(record["messages"]), int(record["requests"]))
        await asyncio.sleep(1.0)


def commit_to_first_page(incidents: list[Opened], pages: Pages, ended: datetime) -> dict[str, Any]:
    """Latency from commit to first page, and to the first of page and post. An incident not paged
    (or neither paged nor posted) by `ended` counts with `ended` (so its latency is a floor)."""
    paged = [pages.first.get(i.incident_id) for i in incidents]
    to_page = [((at or ended) - i.declared_at).total_seconds() for i, at in zip(incidents, paged, strict=True)]
    either = [min(t for t in (at, i.posted_at, ended) if t is not None) for i, at in zip(incidents, paged, strict=True)]
    to_either = [(at - i.declared_at).total_seconds() for i, at in zip(incidents, either, strict=True)]
    page_first = sum(1 for i, at in zip(incidents, paged, strict=True)
                     if at is not None and (i.posted_at is None or at <= i.posted_at))
    return {
        "page": {"measured": MEASURED_PAGE, "incidents": len(incidents),
                 "paged": sum(1 for at in paged if at), "not_paged": sum(1 for at in paged if at is None),
                 "messages": pages.messages, "sms_requests": pages.requests, **stats_ms(to_page),
                 "each": [{"incident": i.incident_id, "paged_at": at.isoformat() if at else None}
                          for i, at in zip(incidents, paged, strict=True)]},
        "page_or_post": {"measured": "the first of the page and the first Teams post, per incident",
                         "incidents": len(incidents), "page_first": page_first, **stats_ms(to_either)},
    }


def describe_pages(result: dict[str, Any]) -> str:
    def line(stats: dict[str, float]) -> str:
        return f"p50 {stats['p50_ms']:.0f} ms, p99 {stats['p99_ms']:.0f} ms, max {stats['max_ms']:.0f} ms"

    page, either = result["page"], result["page_or_post"]
    missing = f"; {page['not_paged']} not paged when the wait ended (counted then)" if page["not_paged"] else ""
    return "\n".join([
        f"commit to first page: {line(page)} over {page['incidents']} incidents{missing}",
        f"  measured: {page['measured']}; {page['messages']} messages in {page['sms_requests']} Twilio requests",
        f"commit to first page or post: {line(either)} (target p99 < 1 s); "
        f"the page came first for {either['page_first']} of {either['incidents']}",
    ])
