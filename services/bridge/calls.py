"""Graph's call notifications (commsNotifications posted to /api/calls) onto the timeline.

The whole request is checked before anything is written: a malformed notification is a 400 and
changes nothing. Graph notes that "establishing/established notifications may arrive out of
order", so a state never moves back; and a notification can arrive before Beacon has stored the
call it placed (the POST's answer is still on its way), so one about a call not stored yet is
accepted and held, and applied when the call is stored (`apply_held`). Held ones nobody claims go
after HOLD_FOR.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from services.bridge import effects
from services.bridge.model import CALL_STATE_RANK, call_key
from services.bridge.tables import BridgeCallRow
from services.store.uow import UnitOfWork

MAX_NOTIFICATIONS = 100
HOLD_FOR = timedelta(minutes=30)
_RESOURCE = re.compile(r"^/?(?:(?:v1\.0|beta)/)?(?:communications|app)/calls/([^/?#\s]+)(/[^?#\s]*)?$")
CHANGE_TYPES = frozenset({"created", "updated", "deleted"})
STATE_SUMMARY = {"establishing": "Teams call is ringing the responders", "established": "Teams call established",
                 "terminating": "Teams call is ending", "terminated": "Teams call ended"}


class NotificationRejected(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CallNotification:
    call_id: str
    change_type: str
    state: str | None = None  # a change of the call itself
    result: str = ""  # why it ended, when Graph says
    participants: tuple[tuple[str, str], ...] | None = None  # a roster update: (id, name)


def _reject(message: str) -> NotificationRejected:
    return NotificationRejected(400, message)


def _identity_name(info: Any) -> tuple[str, str] | None:
    identity = info.get("identity") if isinstance(info, dict) else None
    if not isinstance(identity, dict) or "application" in identity:
        return None  # Beacon's own calling bot is a participant too
    for kind in ("user", "guest", "phone", "acsUser", "spoolUser", "encrypted"):
        who = identity.get(kind)
        if isinstance(who, dict):
            return str(who.get("id") or ""), str(who.get("displayName") or who.get("id") or "someone")
    return None


def _roster(data: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(data, list):
        raise _reject(f"{where}.resourceData must be a list of participants")
    people = []
    for i, participant in enumerate(data):
        if not isinstance(participant, dict):
            raise _reject(f"{where}.resourceData[{i}] must be an object")
        found = _identity_name(participant.get("info"))
        if found:
            people.append((found[0] or str(participant.get("id") or ""), found[1]))
    return tuple(people)


def _one(item: Any, where: str) -> CallNotification:
    if not isinstance(item, dict):
        raise _reject(f"{where} must be an object")
    resource = item.get("resourceUrl") or item.get("resource")
    match = _RESOURCE.match(resource) if isinstance(resource, str) else None
    if match is None:
        raise _reject(f"{where}.resourceUrl must be /communications/calls/{{id}}…, got {str(resource)[:80]!r}")
    change = item.get("changeType")
    if not isinstance(change, str) or change not in CHANGE_TYPES:
        raise _reject(f"{where}.changeType must be created, updated or deleted")
    call_id, tail, data = match.group(1), match.group(2) or "", item.get("resourceData")
    if tail == "/participants":
        return CallNotification(call_id, change, participants=_roster(data, where))
    if tail:  # operations (e.g. an invite's progress): accepted, nothing to record
        return CallNotification(call_id, change)
    if data is not None and not isinstance(data, dict):
        raise _reject(f"{where}.resourceData must be an object")
    state = (data or {}).get("state")
    if state is not None and not isinstance(state, str):
        raise _reject(f"{where}.resourceData.state must be a string")
    result = (data or {}).get("resultInfo")
    reason = str(result.get("message") or "") if isinstance(result, dict) else ""
    return CallNotification(call_id, change, "terminated" if change == "deleted" else state, reason)


def parse_notifications(body: Any) -> list[CallNotification]:
    if not isinstance(body, dict):
        raise _reject("body must be a JSON object (#microsoft.graph.commsNotifications)")
    value = body.get("value")
    if not isinstance(value, list) or not value:
        raise _reject("value must be a non-empty list of notifications")
    if len(value) > MAX_NOTIFICATIONS:
        raise _reject(f"at most {MAX_NOTIFICATIONS} notifications in one request")
    return [_one(item, f"value[{i}]") for i, item in enumerate(value)]


@dataclass(frozen=True)
class Applied:
    recorded: int  # timeline entries written
    held: frozenset[str]  # ids of calls not stored yet whose notifications were held


def _stored(note: CallNotification) -> dict[str, Any]:
    return asdict(note)


def _restored(data: dict[str, Any]) -> CallNotification:
    people = data.get("participants")
    return CallNotification(str(data["call_id"]), str(data["change_type"]), data.get("state"),
                            str(data.get("result") or ""),
                            None if people is None else tuple((str(p[0]), str(p[1])) for p in people))


async def apply_notifications(uow: UnitOfWork, notifications: list[CallNotification], now: datetime) -> Applied:
    """Record what changed, holding what is about calls not stored yet. The caller commits."""
    rows: dict[str, BridgeCallRow | None] = {}
    for note in notifications:
        key = call_key(note.call_id)
        if key not in rows:
            rows[key] = await uow.bridges.call_row(note.call_id)
    written, held = 0, set()
    for note in notifications:
        row = rows[call_key(note.call_id)]
        if row is None:
            await uow.bridges.hold_notification(note.call_id, _stored(note), now, now - HOLD_FOR)
            held.add(note.call_id)
        else:
            written += await _apply(uow, row, note, now)
    return Applied(written, frozenset(held))


async def apply_held(uow: UnitOfWork, call_id: str, now: datetime) -> int:
    """Apply what arrived for this call before it was stored; 0 when the call is still unknown."""
    row = await uow.bridges.call_row(call_id)
    if row is None:
        return 0
    written = 0
    for data in await uow.bridges.take_held(call_id):
        written += await _apply(uow, row, _restored(data), now)
    return written


async def _apply(uow: UnitOfWork, row: BridgeCallRow, note: CallNotification, now: datetime) -> int:
    if note.state:
        return await _state_change(uow, row, note, now)
    if note.participants is not None:
        return await _roster_change(uow, row, note.participants, now)
    return 0


async def _state_change(uow: UnitOfWork, row: BridgeCallRow, note: CallNotification, now: datetime) -> int:
    new, old = str(note.state), row.state
    if new == old or CALL_STATE_RANK.get(new, 2) < CALL_STATE_RANK.get(old, 0):
        return 0  # a repeat, or a late "establishing" after "established"
    row.state, row.updated_at = new, now
    summary = STATE_SUMMARY.get(new, f"Teams call {new}")
    if note.result and new == "terminated":
        summary += f" ({note.result})"
    await effects.record(uow, row.incident_id, "call_state", summary, now,
                         after={"call_id": row.call_id, "state": new, "before": old})
    if new in ("established", "terminated"):
        await effects.refresh_card(uow, row.incident_id, f"call:{row.call_id}:{new}", now)
    return 1


async def _roster_change(uow: UnitOfWork, row: BridgeCallRow, roster: tuple[tuple[str, str], ...],
                         now: datetime) -> int:
    before = {str(p[0]): str(p[1]) for p in row.participants or []}
    after = dict(roster)
    joined = [name for pid, name in after.items() if pid not in before]
    left = [name for pid, name in before.items() if pid not in after]
    if not joined and not left:
        return 0
    row.participants, row.updated_at = [[pid, name] for pid, name in after.items()], now
    parts = ([f"{', '.join(joined)} joined the Teams call"] if joined else []) + (
        [f"{', '.join(left)} left the Teams call"] if left else [])
    await effects.record(uow, row.incident_id, "call_participants", "; ".join(parts), now,
                         after={"call_id": row.call_id, "joined": joined, "left": left,
                                "in_call": list(after.values())})
    return 1
