"""The paging set-up the paging tests share: two people on call for payments, a two-level policy,
Teams personal chats on the fake connector and SMS through a fake Twilio.

A level lasts 30 seconds unless a test asks for less: a test that acts before the escalation (an
acknowledgement, a page by hand) must not race a timer on a slow machine, and a test that waits for
the escalation says how short its levels are (`after="PT3S"`, and `last_after` for the last level,
so that a test can answer level 2 without racing it)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.teams_activities import CHANNEL_ID, Person

ADA = Person.named("Ada Lovelace")
GRACE = Person.named("Grace Hopper")
ADA_PHONE, GRACE_PHONE = "+447700900001", "+447700900002"
ALERTS_TOKEN = "paging-alerts-token"
BEARER = {"Authorization": f"Bearer {ALERTS_TOKEN}"}
LINK = re.compile(r"https?://\S+/ack/([A-Za-z0-9_-]+)")


def paging_config(*, after: str = "PT30S", last_after: str | None = None, repeat: int = 0,
                  **oncall: Any) -> dict[str, Any]:
    """Ada is on call this week (the rotation started today at midnight UTC); level 2 is Grace."""
    today = datetime.now(UTC).date().isoformat()
    return {
        "channels": {"incidents_channel": CHANNEL_ID},
        "services": [{"name": "payments-api", "team": "payments", "criticality": "high",
                      "escalation_policy": "payments"}],
        "directory": {"teams": [{"name": "payments", "members": [
            {"name": ADA.name, "aad_object_id": ADA.aad_object_id, "email": ADA.email, "phone": ADA_PHONE},
            {"name": GRACE.name, "aad_object_id": GRACE.aad_object_id, "email": GRACE.email,
             "phone": GRACE_PHONE}]}]},
        "alert_routing": {"rules": [{"match": {"labels": {"service": "payments-api"}}, "service": "payments-api"}]},
        "oncall": {
            "schedules": [{"name": "payments-primary", "time_zone": "UTC", "shift": "P1W", "handoff": "00:00",
                           "start": today, "people": [ADA.email, GRACE.email]}],
            "escalation_policies": [{"name": "payments", "repeat": repeat, "levels": [
                {"notify": ["schedule:payments-primary"], "methods": ["teams", "sms"], "after": after},
                {"notify": [f"person:{GRACE.email}"], "methods": ["teams", "sms", "voice"],
                 "after": last_after or after}]}],
            "page_priorities": ["P1"], **oncall},
    }


def alert(name: str = "PaymentsDown") -> dict[str, Any]:
    """An Alertmanager v4 post with one firing alert for payments-api."""
    return {"version": "4", "groupKey": f"{{}}:{{alertname=\"{name}\"}}", "status": "firing", "receiver": "beacon",
            "groupLabels": {"alertname": name}, "commonLabels": {"alertname": name, "service": "payments-api"},
            "commonAnnotations": {}, "externalURL": "http://alertmanager.example:9093", "truncatedAlerts": 0,
            "alerts": [{"status": "firing", "labels": {"alertname": name, "service": "payments-api",
                                                       "severity": "critical"},
                        "annotations": {"summary": "Payments API is failing requests"},
                        "startsAt": datetime.now(UTC).isoformat(), "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prometheus.example/graph", "fingerprint": f"fp-{name}"}]}


def ack_token(body: str) -> str:
    found = LINK.search(body)
    assert found, f"no acknowledge link in {body!r}"
    return found.group(1)
