"""Paging metrics over HTTP: an alert pages Ada, nobody answers, level 2 pages Grace, Grace
acknowledges through her SMS link; /metrics (Prometheus) and `@Beacon metrics` then show the time
to acknowledge for the service and priority, the pages per method and outcome, the escalation and
the acknowledgement by level and method, and still do after a restart."""

from __future__ import annotations

import re

from tests.e2e.conftest import Stack
from tests.e2e.helpers import act, card_text, eventually, incident_root
from tests.e2e.paging_helpers import ADA, ADA_PHONE, BEARER, GRACE, GRACE_PHONE, ack_token, alert
from tests.e2e.test_paging import paging, sms_to
from tests.teams_activities import channel_message

LABELS = 'priority="P1",service="payments-api"'


def sample(body: str, name: str) -> float | None:
    """The value of one Prometheus sample line (`name{labels}`), or None when absent."""
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", body, re.MULTILINE)
    return float(found.group(1)) if found else None


async def metrics(stack: Stack) -> str:
    status, body = await stack.beacon.get_text("/metrics")
    assert status == 200
    return body


def check(body: str) -> None:
    assert sample(body, f"beacon_paging_time_to_acknowledge_seconds_count{{{LABELS}}}") == 1.0, body
    assert sample(body, f'beacon_paging_time_to_acknowledge_seconds_bucket{{le="+Inf",{LABELS}}}') == 1.0
    assert (sample(body, f"beacon_paging_time_to_acknowledge_seconds_sum{{{LABELS}}}") or 0) > 2.5  # after PT3S
    assert sample(body, 'beacon_paging_acknowledgements{level="2",method="sms_link"}') == 1.0
    assert sample(body, 'beacon_paging_escalations{level="2"}') == 1.0
    assert sample(body, 'beacon_paging_pages{method="sms",outcome="sent"}') == 2.0  # Ada, then Grace
    assert sample(body, 'beacon_paging_pages{method="teams",outcome="sent"}') == 2.0
    assert sample(body, 'beacon_paging_pages{method="voice",outcome="not_configured"}') == 1.0


async def test_an_acknowledged_escalation_shows_on_metrics_and_in_the_metrics_command(database_url):
    async with paging(database_url, after="PT3S", last_after="PT60S") as (stack, twilio):
        body = await metrics(stack)
        assert "beacon_paging_time_to_acknowledge_seconds" in body and "_count{" not in body.split(
            "beacon_paging_time_to_acknowledge_seconds")[-1].split("# HELP")[0]
        await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        await eventually(lambda: sms_to(twilio, GRACE_PHONE), timeout=15, what="Grace's level 2 SMS")
        status, _ = await stack.beacon.post(f"/ack/{ack_token(sms_to(twilio, GRACE_PHONE)[0])}")
        assert status == 200
        await stack.beacon.settle()
        check(await metrics(stack))

        message = channel_message("metrics", service_url=stack.url, from_user=GRACE)
        await stack.send(message)
        answer = await stack.teams.wait_for(lambda r: next((m for m in r.posted() if m.reply_to_id == message["id"]),
                                                           None), timeout=20)
        text = card_text(answer.cards[0])
        assert "payments-api P1: 1 acknowledged, mean " in text
        assert "level 2 by SMS link: 1" in text and "to level 2: 1" in text
        assert "sms: 2 sent" in text and "voice: 1 not configured" in text

        # Written where they happened, read back with SQL: a restart changes nothing.
        await stack.beacon.stop()
        await stack.beacon.start()
        check(await metrics(stack))


async def test_an_acknowledgement_on_the_incident_card_counts_for_the_level_last_paged(database_url):
    async with paging(database_url) as (stack, twilio):
        await stack.beacon.post("/api/alerts/alertmanager", alert(), headers=BEARER)
        root = await incident_root(stack, 1)
        await eventually(lambda: sms_to(twilio, ADA_PHONE), what="Ada's level 1 SMS")
        await act(stack, root, "incident.ack", from_user=ADA)
        body = await metrics(stack)
        assert sample(body, 'beacon_paging_acknowledgements{level="1",method="card"}') == 1.0, body
        assert sample(body, f"beacon_paging_time_to_acknowledge_seconds_count{{{LABELS}}}") == 1.0
        assert "beacon_paging_escalations{" not in body
