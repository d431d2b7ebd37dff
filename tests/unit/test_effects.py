"""Typed outbox effects write the rows an earlier release wrote (same kind, keys and JSON), so rows
already queued in a deployed database still deliver, and every kind has a handler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app import WORKER, Overrides, create_app
from services.bridge.effects import BridgeThreadCard, CreateMeeting, Invite, Ring
from services.channels.effects import ArchiveChannel, ChannelBridge, ChannelCard, ChannelPointer, MakeChannel
from services.effects import Channel, OutboxEffect, effect_types
from services.effects.messages import SendEmail, SendSms
from services.effects.roster import CheckChannelKinds, LookUpMember, ReadRoster, Welcome
from services.effects.teams import (
    PostCard,
    ReplaceForm,
    ResolvePeople,
    StakeholderPost,
    ThreadCard,
    ThreadCatchUp,
    ThreadMention,
    ThreadNote,
    UpdateCard,
)
from services.intake.effects import CreateTicket, CustomerReply, ReportCard, TicketNote, UpdateTicket
from services.paging.effects import PageEmail, PageSms, PageTeams, PageVoice
from services.paging.voice_calls import CancelCalls
from services.review.effects import CreateReviewEvent, ReviewThreadCard
from services.settings import Settings
from services.status_page.effects import SubscriberEmail
from tests.e2e.conftest import unconfigured

TARGET = {"service_url": "https://smba.example/", "tenant_id": "t", "channel_id": "19:c", "conversation_id": ""}
ALICE = {"aad_object_id": "aad-alice", "name": "Alice"}

# (effect, kind, idempotency key, ordering key, incident_id column, payload) as the earlier release wrote them
ROWS: list[tuple[OutboxEffect, str, str, str, int | None, dict[str, Any]]] = [
    (MakeChannel(7, "INC-7 channel", "19:c"), "graph.make_channel", "incident:7:channel:make", "incident:7:channel",
     7, {"incident_id": 7, "description": "INC-7 channel", "near": "19:c"}),
    (ArchiveChannel(7, "INC-7 channel archived"), "graph.archive_channel", "incident:7:channel:archive",
     "incident:7:channel", 7, {"incident_id": 7, "description": "INC-7 channel archived"}),
    (ChannelCard(7, "INC-7 card in its channel"), "teams.channel_card", "incident:7:channel:card",
     "incident:7:channel:teams", 7, {"incident_id": 7, "description": "INC-7 card in its channel"}),
    (ChannelBridge(7, 2, "INC-7 bridge card in its channel"), "teams.channel_bridge", "incident:7:channel:bridge:2",
     "incident:7:channel:teams", 7,
     {"incident_id": 7, "attempt": 2, "description": "INC-7 bridge card in its channel"}),
    (ChannelPointer(7, "INC-7 pointer"), "teams.channel_pointer", "incident:7:channel:pointer", "incident:7:teams",
     7, {"incident_id": 7, "description": "INC-7 pointer"}),
    (PostCard(7, TARGET, "INC-7 card"), "teams.post_card", "incident:7:root", "incident:7:teams", 7,
     {"incident_id": 7, "target": TARGET, "description": "INC-7 card"}),
    (UpdateCard(7, "INC-7 card update", "card:v3"), "teams.update_card", "incident:7:card:v3", "incident:7:teams",
     7, {"incident_id": 7, "description": "INC-7 card update"}),
    (ThreadNote(7, "Bob acknowledged", "INC-7 thread note", "note:v3"), "teams.thread_note", "incident:7:note:v3",
     "incident:7:teams", 7, {"incident_id": 7, "text": "Bob acknowledged", "description": "INC-7 thread note"}),
    (ThreadCard(7, "resolution", "INC-7 resolution notice", "resolution:v9", {"text": "Fixed"}),
     "teams.thread_card", "incident:7:resolution:v9", "incident:7:teams", 7,
     {"incident_id": 7, "card": "resolution", "text": "Fixed", "description": "INC-7 resolution notice"}),
    (ThreadCatchUp(7, "2026-01-05T09:20:00+00:00", "catch-up reply after Teams was unreachable"),
     "teams.thread_catch_up", "incident:7:catch-up", "incident:7:teams", 7,
     {"incident_id": 7, "since": "2026-01-05T09:20:00+00:00",
      "description": "catch-up reply after Teams was unreachable"}),
    (StakeholderPost(7, "19:s", "initial", "Declared", {}, "INC-7 stakeholder channel post",
                     "initial:stakeholder-channel"), "teams.stakeholder_post",
     "incident:7:initial:stakeholder-channel", "incident:7:stakeholders", 7,
     {"incident_id": 7, "channel_id": "19:s", "card": "initial", "text": "Declared", "endpoint": {},
      "description": "INC-7 stakeholder channel post"}),
    (ResolvePeople(7, ["aad-1"], "INC-7 names of chosen people", "people:v2"), "teams.resolve_people",
     "incident:7:people:v2", "incident:7:teams", 7,
     {"incident_id": 7, "ids": ["aad-1"], "description": "INC-7 names of chosen people"}),
    (SendEmail(7, "update:2", "Avery@Example.com", "Avery", "S", "<p>h</p>", "t", "email to Avery@Example.com"),
     "email.send", "incident:7:update:2:email:avery@example.com", "incident:7:email:avery@example.com", 7,
     {"to": [["Avery@Example.com", "Avery"]], "subject": "S", "html": "<p>h</p>", "text": "t",
      "description": "email to Avery@Example.com"}),
    (SendSms(7, "initial", "+15550100", "INC-7 P1", "SMS to …0100"), "sms.send", "incident:7:initial:sms:+15550100",
     "incident:7:sms:+15550100", 7, {"to": "+15550100", "text": "INC-7 P1", "description": "SMS to …0100"}),
    (CreateMeeting(7, 2, "INC-7 bridge meeting"), "bridge.create", "incident:7:bridge:create:2", "incident:7:bridge",
     7, {"incident_id": 7, "attempt": 2, "description": "INC-7 bridge meeting"}),
    (Invite(7, [{"key": "a@x"}], ALICE, "INC-7 bridge invitation", "invite:act1"), "bridge.invite",
     "incident:7:bridge:invite:act1", "incident:7:bridge", 7,
     {"incident_id": 7, "invitees": [{"key": "a@x"}], "actor": ALICE, "description": "INC-7 bridge invitation"}),
    (Ring(7, [{"aad_object_id": "aad-1", "name": "B"}], "t", "https://b/api/calls", ALICE, "INC-7 bridge", "ring",
          "ring:act2"), "bridge.ring", "incident:7:bridge:ring:act2", "incident:7:calls", 7,
     {"incident_id": 7, "targets": [{"aad_object_id": "aad-1", "name": "B"}], "tenant_id": "t",
      "callback_uri": "https://b/api/calls", "actor": ALICE, "subject": "INC-7 bridge", "description": "ring"}),
    (BridgeThreadCard(7, "failed", "INC-7 bridge failed card", "thread:failed:1", {"what": "create", "error": "e"}),
     "bridge.thread_card", "incident:7:bridge:thread:failed:1", "incident:7:teams", 7,
     {"incident_id": 7, "card": "failed", "description": "INC-7 bridge failed card", "what": "create", "error": "e"}),
    (CreateTicket(7, 3, "INC-7 Freshdesk ticket"), "freshdesk.create", "incident:7:freshdesk:create",
     "incident:7:freshdesk", 7, {"incident_id": 7, "link_id": 3, "description": "INC-7 Freshdesk ticket"}),
    (UpdateTicket(7, 3, 42, 4, None, "INC-7 Freshdesk ticket update", "v5:update"), "freshdesk.update",
     "incident:7:freshdesk:link3:v5:update", "incident:7:freshdesk", 7,
     {"incident_id": 7, "link_id": 3, "ticket_id": 42, "priority": 4, "status": None,
      "description": "INC-7 Freshdesk ticket update"}),
    (TicketNote(7, 42, "<p>n</p>", True, "INC-7 Freshdesk note", "v5:note0", link_id=3), "freshdesk.note",
     "incident:7:freshdesk:link3:v5:note0", "incident:7:freshdesk", 7,
     {"incident_id": 7, "link_id": 3, "ticket_id": 42, "html": "<p>n</p>", "private": True,
      "description": "INC-7 Freshdesk note"}),
    (TicketNote(None, 42, "<p>d</p>", False, "Freshdesk note on #42", "dismissed:note"), "freshdesk.note",
     "report:42:dismissed:note", "freshdesk:ticket:42", None,
     {"incident_id": None, "ticket_id": 42, "html": "<p>d</p>", "private": False,
      "description": "Freshdesk note on #42"}),
    (ReportCard(42, "post", "reported issue #42 card", "post"), "intake.report_card", "report:42:card:post",
     "report:42", None, {"ticket_id": 42, "mode": "post", "description": "reported issue #42 card"}),
    (ReviewThreadCard(7, "report_summary", "summary", {"link": "https://l"}), "review.thread_card",
     "incident:7:review:summary", "incident:7:teams", 7,
     {"incident_id": 7, "card": "report_summary", "link": "https://l"}),
    (CreateReviewEvent(7, "Review", "<p>b</p>", "2026-01-05T10:00:00+00:00", "2026-01-05T11:00:00+00:00",
                       [["a@x", "A"]], "INC-7 review meeting"), "review.create_event", "incident:7:review:event",
     "incident:7:review-event", 7,
     {"incident_id": 7, "subject": "Review", "body_html": "<p>b</p>", "start": "2026-01-05T10:00:00+00:00",
      "end": "2026-01-05T11:00:00+00:00", "attendees": [["a@x", "A"]], "description": "INC-7 review meeting"}),
    (ThreadMention(7, "Nobody acknowledged INC-7", [["Ada", "aad-ada"]], "INC-7 nobody acknowledged",
                   "page-unanswered"), "teams.thread_mention", "incident:7:page-unanswered", "incident:7:teams", 7,
     {"incident_id": 7, "text": "Nobody acknowledged INC-7", "people": [["Ada", "aad-ada"]],
      "description": "INC-7 nobody acknowledged", "personal_if_absent": False}),
    (ReplaceForm(7, "https://smba.example/emea/", "19:c@thread.tacv2;messageid=1", "5", "t1",
                 "Declared as INC-7 by Ada: x", "INC-7 declare form", "form:5"),
     "teams.replace_form", "incident:7:form:5", "incident:7:teams", 7,
     {"incident_id": 7, "service_url": "https://smba.example/emea/",
      "conversation_id": "19:c@thread.tacv2;messageid=1", "activity_id": "5", "tenant_id": "t1",
      "text": "Declared as INC-7 by Ada: x", "description": "INC-7 declare form"}),
]
# Replies to customers are new: one per ticket and message (update sequence, or the resolution of a
# version), behind the incident's other Freshdesk effects.
ROWS += [
    (CustomerReply(7, 42, "<p>r</p>", "INC-7 update 3", "reply to #42", "update3"), "freshdesk.reply",
     "incident:7:freshdesk:ticket42:reply:update3", "incident:7:freshdesk", 7,
     {"incident_id": 7, "ticket_id": 42, "html": "<p>r</p>", "reference": "INC-7 update 3",
      "description": "reply to #42"}),
]
# Pages are new: their rows are the first of their kind. The key names incident, level, round,
# person and method; the ordering key never joins the incident's Teams thread.
PAGE = {"incident_id": 7, "level": 2, "round": 1, "person": "ada@x", "name": "Ada", "text": "INC-7 P1: Down",
        "description": "page"}
ROWS += [
    (PageTeams(7, 2, 1, "ada@x", "Ada", "INC-7 P1: Down", "page", aad_object_id="aad-ada"), "page.teams",
     "incident:7:page:2:1:ada@x:teams", "incident:7:page:teams:ada@x", 7, {**PAGE, "aad_object_id": "aad-ada"}),
    (PageSms(7, 2, 1, "ada@x", "Ada", "INC-7 P1: Down", "page", phone="+15550100"), "page.sms",
     "incident:7:page:2:1:ada@x:sms", "incident:7:page:sms:ada@x", 7, {**PAGE, "phone": "+15550100"}),
    (PageVoice(7, 2, 1, "ada@x", "Ada", "INC-7 P1: Down", "page", phone="+15550100"), "page.voice",
     "incident:7:page:2:1:ada@x:voice", "incident:7:page:voice:ada@x", 7, {**PAGE, "phone": "+15550100"}),
    (PageEmail(7, 2, 1, "ada@x", "Ada", "INC-7 P1: Down", "page", email="ada@x"), "page.email",
     "incident:7:page:2:1:ada@x:email", "incident:7:page:email:ada@x", 7, {**PAGE, "email": "ada@x"}),
    # Once per incident: its calls still ringing stop when someone acknowledged another way.
    (CancelCalls(7, "Ada acknowledged"), "page.voice.cancel", "incident:7:page:voice:cancel",
     "incident:7:page:voice:cancel", 7, {"incident_id": 7, "reason": "Ada acknowledged"}),
]

# Rosters are new: read once per install (the key names it), one person once an hour at most.
ROWS += [
    (ReadRoster("19:team", "https://smba.example/", "t", "read the members of team 19:team", "20261204T031500.000000"),
     "teams.read_roster", "roster:19:team:read:20261204T031500.000000", "roster:8364fae2085ffa91fe2b", None,
     {"team_id": "19:team", "service_url": "https://smba.example/", "tenant_id": "t",
      "description": "read the members of team 19:team"}),
    (LookUpMember("19:team", "19:c@thread.tacv2", "29:1ada", "aad-ada", "https://smba.example/", "t",
                  "look up Ada in Teams", "20261204T03"),
     "teams.look_up_member", "roster:19:team:member:29:1ada:20261204T03",
     "roster:8364fae2085ffa91fe2b:member:eb7edd5093d5b108d870", None,
     {"team_id": "19:team", "conversation_id": "19:c@thread.tacv2", "user_id": "29:1ada", "aad_object_id": "aad-ada",
      "service_url": "https://smba.example/", "tenant_id": "t", "description": "look up Ada in Teams"}),
    (Welcome("19:team", "https://smba.example/", "t", "hello in Ops", "20261204T031500.000000"), "teams.welcome",
     "install:19:team:welcome:20261204T031500.000000", "install:8364fae2085ffa91fe2b", None,
     {"conversation_id": "19:team", "service_url": "https://smba.example/", "tenant_id": "t",
      "description": "hello in Ops"}),
    (CheckChannelKinds("19:team", "check the configured channels' kinds in Ops", "20261204T031500.000000"),
     "graph.check_channel_kinds", "install:19:team:channel-kinds:20261204T031500.000000",
     "channel-kinds:8364fae2085ffa91fe2b", None,
     {"team_id": "19:team", "description": "check the configured channels' kinds in Ops"}),
]

# A status page's subscriber: keyed by subscription and message, ordered per subscription.
ROWS += [
    (SubscriberEmail(4, "INC-7:update3", 7, "erin@contoso.example", "Contoso status: API down (update)", "<p>x</p>",
                     "x", "https://b.example/status/Contoso/unsubscribe?s=4&sig=ab", "INC-7 status email to erin"),
     "status.subscriber_email", "status-subscription:4:INC-7:update3", "status-subscription:4", 7,
     {"incident_id": 7, "address": "erin@contoso.example", "subject": "Contoso status: API down (update)",
      "html": "<p>x</p>", "text": "x", "unsubscribe_url": "https://b.example/status/Contoso/unsubscribe?s=4&sig=ab",
      "description": "INC-7 status email to erin"}),
]


@pytest.mark.parametrize(("effect", "kind", "key", "order", "incident_id", "payload"), ROWS,
                         ids=[row[1] + ":" + row[2] for row in ROWS])
def test_an_effect_writes_the_row_an_earlier_release_wrote(effect: OutboxEffect, kind: str, key: str, order: str,
                                                           incident_id: int | None, payload: dict[str, Any]) -> None:
    assert (effect.kind, effect.idempotency_key, effect.ordering_key, effect.filed_under) == (
        kind, key, order, incident_id)
    assert effect.payload() == payload


def test_every_kind_is_covered_above_and_has_a_handler(tmp_path: Path) -> None:
    assert {row[1] for row in ROWS} == set(effect_types())
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")  # type: ignore[call-arg]
    app = create_app(settings, Overrides(outside=unconfigured(), start_worker=False))
    assert set(effect_types()) <= set(app[WORKER]._handlers)


def test_teams_effects_never_share_an_ordering_key_with_another_channel() -> None:
    """A page, an email or a Graph call never waits behind a Teams post (and the reverse)."""
    channels: dict[str, set[Channel]] = {}
    for effect, *_ in ROWS:
        channels.setdefault(effect.ordering_key, set()).add(effect.channel)
    assert all(len(found) == 1 for found in channels.values()), channels
