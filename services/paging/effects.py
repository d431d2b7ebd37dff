"""Page effects: one outbox row per person, method and step of the escalation.

The idempotency key names the incident, the level, the round, the person and the method, so a
replayed timer or a retried transaction never pages twice; the ordering key (per incident, person
and method) never puts a page behind the incident's Teams thread. The signed acknowledge link is
made by the handler at delivery (services/paging/links.py), so a retry carries a link as fresh as
the first attempt's.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.effects import ordering
from services.effects.base import Channel, OutboxEffect


@dataclass(frozen=True)
class Page(OutboxEffect):
    """What every page carries; `text` is one line ("DRILL " first for a drill)."""

    incident_id: int
    level: int  # 1-based
    round: int  # 1-based: the first pass through the levels is round 1
    person: str  # directory key (email, else aad id), lower case
    name: str
    text: str
    description: str

    method = ""  # the policy's name for this way of paging
    express = True  # a page goes out as its transaction commits, never behind a storm's cards

    @property
    def idempotency_key(self) -> str:
        return f"incident:{self.incident_id}:page:{self.level}:{self.round}:{self.person}:{self.method}"

    @property
    def ordering_key(self) -> str:
        return ordering.incident_page(self.incident_id, self.person, self.method)


@dataclass(frozen=True)
class PageTeams(Page):
    """A personal (one-to-one) message from Beacon with the incident card and Acknowledge."""

    kind = "page.teams"
    channel = Channel.TEAMS
    method = "teams"
    aad_object_id: str = ""


@dataclass(frozen=True)
class PageSms(Page):
    kind = "page.sms"
    channel = Channel.SMS
    method = "sms"
    phone: str = ""


@dataclass(frozen=True)
class PageEmail(Page):
    kind = "page.email"
    channel = Channel.EMAIL
    method = "email"
    email: str = ""


@dataclass(frozen=True)
class PageVoice(Page):
    """A phone call that reads the incident out and takes a key press (the voice integration)."""

    kind = "page.voice"
    channel = Channel.VOICE
    method = "voice"
    phone: str = ""


PAGE_TYPES: dict[str, type[Page]] = {t.method: t for t in (PageTeams, PageSms, PageEmail, PageVoice)}
