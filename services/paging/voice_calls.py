"""What Beacon knows about the calls it placed for voice pages, so a crash or a lost answer never
rings a person twice for the same page.

Twilio's Calls API takes no idempotency key. So each attempt to place a page's call is written
down (and committed) before the request goes out, and the call is recorded as placed as soon as
Twilio answers with its sid. An attempt still open when the page is tried again is one whose
outcome Beacon never learnt (the process died, or the answer was lost): the caller then asks
Twilio for a call to that number created while that attempt was in flight, and places none if it
finds one. The marks live in processed_activities (keys already applied) under "voice-call:".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from services.deps import Deps
from services.effects.base import Channel, OutboxEffect
from services.incidents import TimelineEvent
from services.paging.acknowledge import paged_person
from services.paging.links import AckClaim

if TYPE_CHECKING:
    from services.store.uow import UnitOfWork

FINAL_STATUSES = {"completed": "answered", "busy": "the line was busy", "no-answer": "no answer",
                  "failed": "the call failed (the number could not be reached)", "canceled": "canceled"}
PREFIX = "voice-call:"
SID_PREFIX = "voice-sid:"  # voice-sid:<incident>:<call sid>, for stopping calls still ringing


def _placed(effect_key: str) -> str:
    # A digest: an effect key names a person by email, which can be longer than the column.
    return PREFIX + hashlib.sha256(effect_key.encode()).hexdigest()[:40]


def _attempts(effect_key: str) -> str:
    return _placed(effect_key) + ":attempt:"


def _attempt(effect_key: str, attempt: int) -> str:
    return f"{_attempts(effect_key)}{attempt}"


class VoiceCallMarks:
    """The marks of one unit of work (`VoiceCallMarks(uow)`); the caller commits."""

    def __init__(self, uow: UnitOfWork):
        self._uow = uow

    async def was_placed(self, effect_key: str) -> bool:
        return await self._uow.activities.was_processed(_placed(effect_key))

    async def open_attempts(self, effect_key: str) -> list[datetime]:
        """When each attempt whose outcome is unknown started."""
        return [at for _, at in await self._uow.activities.keyed(_attempts(effect_key))]

    async def start_attempt(self, effect_key: str, attempt: int, incident_id: int, now: datetime) -> None:
        await self._uow.activities.mark_processed(_attempt(effect_key, attempt), incident_id, now)

    async def attempt_refused(self, effect_key: str, attempt: int) -> None:
        """Twilio answered with a refusal: that attempt made no call."""
        await self._uow.activities.forget(_attempt(effect_key, attempt))

    async def record_placed(self, effect_key: str, incident_id: int, now: datetime, sid: str = "") -> None:
        """The page's call exists (its sid, when known): no attempt is open any more."""
        await self._uow.activities.mark_processed(_placed(effect_key), incident_id, now)
        if sid:
            await self._uow.activities.mark_processed(f"{SID_PREFIX}{incident_id}:{sid}", incident_id, now)
        await self._uow.activities.forget(prefix=_attempts(effect_key))

    async def call_sids(self, incident_id: int) -> list[str]:
        """The calls placed for the incident's pages, oldest first."""
        prefix = f"{SID_PREFIX}{incident_id}:"
        return [key.removeprefix(prefix) for key, _ in await self._uow.activities.keyed(prefix)]


@dataclass(frozen=True)
class CancelCalls(OutboxEffect):
    """Stop the incident's paging calls that still ring: someone answered the page another way, or
    the incident is over. A call already answered is left to finish."""

    kind = "page.voice.cancel"
    channel = Channel.VOICE
    incident_id: int
    reason: str

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:page:voice:cancel"

    @property
    def ordering_key(self) -> str:
        return f"incident:{self.incident_id}:page:voice:cancel"


async def record_call_outcome(deps: Deps, claim: AckClaim, sid: str, status: str, duration: str) -> None:
    """How a paging call ended (one of FINAL_STATUSES), on the timeline once per call and outcome
    however often Twilio posts it. It never stops the escalation: only an acknowledgement does."""
    now = deps.clock.now()
    person = paged_person(deps, claim.person)
    how = FINAL_STATUSES[status] + (f", {duration} s" if status == "completed" and duration.isdigit() else "")
    async with deps.uow() as uow:
        await uow.write_first()
        incident = await uow.incidents.get(claim.incident_id)
        if incident is None or not await uow.activities.mark_processed(f"voice-status:{sid}:{status}",
                                                                       claim.incident_id, now):
            return
        event = TimelineEvent("page_call", now, None, f"phone call to {person.name} (level {claim.level}): {how}",
                              after={"call": sid, "status": status, "person": claim.person,
                                     "level": claim.level, "round": claim.round})
        await uow.timeline.record(claim.incident_id, event, incident.version)
        await uow.commit()
