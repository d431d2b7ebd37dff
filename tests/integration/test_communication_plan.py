"""The communication plan with a fake clock on both databases: timers, reminders, automatic
updates, cadence changes, stop on resolve and restart after reopening."""

from __future__ import annotations

from datetime import timedelta

import pytest_asyncio
from sqlalchemy import select

from cards.updates import message_card, reminder_card
from services.clock import FakeClock
from services.comms.messages import Message
from services.deps import Deps
from services.lifecycle import IncidentAction, act_on_incident
from services.scheduler.worker import Scheduler
from services.store.db import create_engine, migrate, session_factory
from services.store.tables import OutboxRow, TimerRow
from services.store.uow import UnitOfWork
from services.verbs import Verb
from tests.cardtext import shown as shown_texts
from tests.integration.helpers import ALICE, declare, payments_config

CONFIG = payments_config(
    {"responder_update_high": "PT1H", "responder_update_other": "PT3H", "stakeholder_update": "PT2H",
     "grace": "PT10M"},
    teams=[{"name": "payments", "email": "payments@example.com",
            "members": [{"name": "Omar", "email": "omar@example.com", "phone": "+15550100"}]}],
    clients=[{"name": "Contoso", "account_owner": {"name": "Avery", "email": "avery@example.com"},
              "contacts": [{"name": "Casey", "email": "casey@contoso.example", "phone": "+15550199"}]}],
    stakeholders=[{"name": "Desk", "email": "desk@example.com"}],
)


@pytest_asyncio.fixture
async def deps(database_url):
    engine = create_engine(database_url)
    await migrate(engine)
    sessions = session_factory(engine)
    yield Deps(uow=lambda: UnitOfWork(sessions), config=CONFIG, clock=FakeClock())
    await engine.dispose()


async def effects(deps, kind: str | None = None) -> list[OutboxRow]:
    async with deps.uow() as uow:
        query = select(OutboxRow).order_by(OutboxRow.id)
        if kind:
            query = query.where(OutboxRow.kind == kind)
        rows = list(await uow.session.scalars(query))
        uow.session.expunge_all()  # keep them readable after the read-only transaction ends
        return rows


async def timers(deps, incident_id: int) -> dict[str, TimerRow]:
    async with deps.uow() as uow:
        rows = await uow.session.scalars(select(TimerRow).where(TimerRow.incident_id == incident_id))
        found = {r.kind: r for r in rows}
        uow.session.expunge_all()
        return found


async def act(deps, incident_id: int, verb: Verb, **data):
    return await act_on_incident(IncidentAction(verb, incident_id, None, data, ALICE), deps)


async def test_initial_notification_reaches_client_stakeholders_team_and_sms_for_high_impact(deps):
    await declare(deps, client="Contoso")
    emails = sorted(r.payload["to"][0][0] for r in await effects(deps, "email.send"))
    assert emails == ["avery@example.com", "casey@contoso.example", "omar@example.com", "payments@example.com"]
    assert sorted(r.payload["to"] for r in await effects(deps, "sms.send")) == ["+15550100", "+15550199"]
    [post] = await effects(deps, "teams.stakeholder_post")
    assert post.payload["channel_id"] == "19:stakeholders@thread.tacv2"
    # Each audience reads its own words, with its own next update: stakeholders every 2 h
    # (responders every hour), and whom to ask.
    channel = message_card(Message.from_dict(post.payload["message"]))
    shown = shown_texts(channel)
    assert "INC-1 · New incident" in shown and "Responders" not in shown and "Posted by" not in shown
    assert "Checkout failing (payments-api), for Contoso, since {{DATE(2026-01-05T09:00:00Z, SHORT)}}" in shown
    assert "**Next update:** by {{DATE(2026-01-05T11:00:00Z, SHORT)}}" in shown
    assert "**Who to contact:** Avery (avery@example.com), Account Owner of Contoso" in shown
    mail = {r.payload["to"][0][0]: r.payload["text"] for r in await effects(deps, "email.send")}
    client = mail["casey@contoso.example"]
    assert "What is affected: Checkout failing (payments-api), for Contoso, since 05 Jan 2026, 09:00 UTC" in client
    assert "What is being done: The team is assessing the problem." in client
    assert "Next update: by 05 Jan 2026, 11:00 UTC" in client
    assert "Who to contact: Avery (avery@example.com), your account manager" in client
    for jargon in ("declared at", "Impact high", "urgency", "P1", "triage", "Priority"):
        assert jargon not in client
    team = mail["payments@example.com"]  # the team reads the responders' words and cadence
    assert "Priority: P1, status triage" in team and "Next update: by 05 Jan 2026, 10:00 UTC" in team


async def test_internal_low_impact_incident_emails_internal_stakeholders_and_sends_no_sms(deps):
    await declare(deps, impact="low", urgency="low", service="")
    emails = sorted(r.payload["to"][0][0] for r in await effects(deps, "email.send"))
    assert emails == ["desk@example.com", "priya@example.com"]
    assert await effects(deps, "sms.send") == []


async def test_cadence_follows_impact_and_reassessment_reschedules(deps):
    clock: FakeClock = deps.clock
    incident_id = await declare(deps)
    due = await timers(deps, incident_id)
    assert due["responders"].due_at == clock.now() + timedelta(hours=1)
    assert due["stakeholders"].due_at == clock.now() + timedelta(hours=2)
    clock.advance(timedelta(minutes=20))
    await act(deps, incident_id, Verb.REASSESS, impact="low", urgency="high")
    assert (await timers(deps, incident_id))["responders"].due_at == clock.now() + timedelta(hours=3)


async def test_due_update_reminds_owner_then_posts_automatically_after_grace(deps):
    clock: FakeClock = deps.clock
    scheduler = Scheduler(deps.uow, CONFIG, clock)
    incident_id = await declare(deps)
    assert await scheduler.run_once() == 0
    clock.advance(timedelta(hours=1))
    assert await scheduler.run_once() == 1
    [reminder] = [e for e in await effects(deps, "teams.thread_card") if e.payload["card"] == "reminder"]
    assert reminder.payload["owner_name"] == "Alice" and reminder.payload["audience"] == "responders"
    # The card tells the owner when the update fell due and when Beacon posts it by itself, as
    # Adaptive Card date functions that each reader's Teams shows in their own time zone.
    shown = shown_texts(reminder_card("INC-1", incident_id, reminder.payload, None))
    due, posts = clock.now(), clock.now() + timedelta(minutes=10)
    assert f"Due: {{{{DATE({due:%Y-%m-%dT%H:%M:%SZ}, SHORT)}}}} {{{{TIME({due:%Y-%m-%dT%H:%M:%SZ})}}}}" in shown
    assert f"by {{{{DATE({posts:%Y-%m-%dT%H:%M:%SZ}, SHORT)}}}} {{{{TIME({posts:%Y-%m-%dT%H:%M:%SZ})}}}}" in shown
    clock.advance(timedelta(minutes=10))
    await scheduler.run_once()
    updates = [e for e in await effects(deps, "teams.thread_card") if e.payload["card"] == "status_update"]
    assert len(updates) == 1 and updates[0].payload["automatic"] is True
    async with deps.uow() as uow:
        kinds = [e.kind for e in await uow.timeline.of(incident_id)]
    assert "update_missed" in kinds and kinds.count("status_update") == 1


async def test_when_nobody_posts_updates_fall_due_on_the_hour_not_a_grace_period_later_each_time(deps):
    """PT1H with a 10-minute grace: reminders at 1:00, 2:00, 3:00, 4:00 after the declaration, each
    automatic update 10 minutes later, for responders (PT1H) and stakeholders (PT2H) alike."""
    clock: FakeClock = deps.clock
    scheduler = Scheduler(deps.uow, CONFIG, clock)
    declared = clock.now()
    incident_id = await declare(deps)
    for hour in range(1, 5):
        clock.advance(declared + timedelta(hours=hour) - clock.now())
        await scheduler.run_once()
        clock.advance(timedelta(minutes=10))
        await scheduler.run_once()
        due = await timers(deps, incident_id)
        assert due["responders"].due_at == declared + timedelta(hours=hour + 1)
        assert due["stakeholders"].due_at == declared + timedelta(hours=2 * (hour // 2 + 1))
    reminders = [e for e in await effects(deps, "teams.thread_card") if e.payload["card"] == "reminder"]
    responders = [e.created_at for e in reminders if e.payload["audience"] == "responders"]
    assert responders == [declared + timedelta(hours=h) for h in range(1, 5)]
    stakeholders = [e.created_at for e in reminders if e.payload["audience"] == "stakeholders"]
    assert stakeholders == [declared + timedelta(hours=2), declared + timedelta(hours=4)]
    async with deps.uow() as uow:
        incident = await uow.incidents.get(incident_id)
    assert incident.next_update_due == declared + timedelta(hours=5)  # what the card shows


async def test_an_automatic_stakeholder_update_names_the_time_the_next_one_is_really_due(deps):
    """Nobody posts the 11:00 stakeholder update; Beacon posts it at 11:10 and the next falls due at
    13:00 (the schedule keeps to the hour): the channel card and the client's email say 13:00, not
    13:10."""
    clock: FakeClock = deps.clock
    scheduler = Scheduler(deps.uow, CONFIG, clock)
    declared = clock.now()
    incident_id = await declare(deps, client="Contoso")
    clock.advance(timedelta(hours=2))
    await scheduler.run_once()
    clock.advance(timedelta(minutes=10))
    await scheduler.run_once()
    assert (await timers(deps, incident_id))["stakeholders"].due_at == declared + timedelta(hours=4)
    [post] = [p for p in await effects(deps, "teams.stakeholder_post") if p.payload["message"]["automatic"]]
    shown = shown_texts(message_card(Message.from_dict(post.payload["message"])))
    assert "**Next update:** by {{DATE(2026-01-05T13:00:00Z, SHORT)}} {{TIME(2026-01-05T13:00:00Z)}}" in shown
    [mail] = [r.payload["text"] for r in await effects(deps, "email.send")
              if r.payload["to"][0][0] == "casey@contoso.example" and "update:" in r.idempotency_key]
    assert "Next update: by 05 Jan 2026, 13:00 UTC" in mail


async def test_posting_early_resets_the_clock_and_no_automatic_update_follows(deps):
    clock: FakeClock = deps.clock
    scheduler = Scheduler(deps.uow, CONFIG, clock)
    incident_id = await declare(deps)
    clock.advance(timedelta(minutes=40))
    await act(deps, incident_id, Verb.POST_UPDATE, audience="responders", update="Failover running")
    assert (await timers(deps, incident_id))["responders"].due_at == clock.now() + timedelta(hours=1)
    clock.advance(timedelta(minutes=30))  # the old due time passes: nothing fires
    await scheduler.run_once()
    cards = [e.payload["card"] for e in await effects(deps, "teams.thread_card")]
    assert cards == ["status_update"]


async def test_stakeholder_update_goes_to_channel_and_client_emails(deps):
    incident_id = await declare(deps, client="Contoso")
    before = len(await effects(deps, "email.send"))
    await act(deps, incident_id, Verb.POST_UPDATE, audience="stakeholders", update="Card payments degraded")
    new_emails = (await effects(deps, "email.send"))[before:]
    assert sorted(e.payload["to"][0][0] for e in new_emails) == ["avery@example.com", "casey@contoso.example"]
    assert all("Card payments degraded" in e.payload["text"] for e in new_emails)


async def test_resolving_stops_every_schedule_and_notifies_initial_routes_and_reopen_restarts(deps):
    clock: FakeClock = deps.clock
    scheduler = Scheduler(deps.uow, CONFIG, clock)
    incident_id = await declare(deps, client="Contoso")
    clock.advance(timedelta(minutes=45))
    await act(deps, incident_id, Verb.RESOLVE, summary="Rolled back 4.2")
    assert await timers(deps, incident_id) == {}
    resolution_sms = [e for e in await effects(deps, "sms.send") if "resolution" in e.idempotency_key]
    assert len(resolution_sms) == 2 and "Rolled back 4.2" in resolution_sms[0].payload["text"]
    assert "45 min" in resolution_sms[0].payload["text"]
    mail = {r.payload["to"][0][0]: r.payload["text"] for r in await effects(deps, "email.send")
            if "resolution" in r.idempotency_key}
    assert ("What was affected: Checkout failing (payments-api), for Contoso, from 05 Jan 2026, 09:00 UTC "
            "to 05 Jan 2026, 09:45 UTC (45 min)") in mail["casey@contoso.example"]
    assert "What fixed it: Rolled back 4.2" in mail["casey@contoso.example"]
    clock.advance(timedelta(hours=5))
    assert await scheduler.run_once() == 0
    await act(deps, incident_id, Verb.REOPEN)
    assert set(await timers(deps, incident_id)) == {"responders", "stakeholders"}


async def test_an_update_missed_while_down_is_sent_once_marked_late(deps):
    clock: FakeClock = deps.clock
    scheduler = Scheduler(deps.uow, CONFIG, clock)
    declared = clock.now()
    incident_id = await declare(deps)
    clock.advance(timedelta(hours=7))  # Beacon was down through several due times
    await scheduler.run_once()
    clock.advance(timedelta(minutes=10))
    await scheduler.run_once()
    cards = [e.payload for e in await effects(deps, "teams.thread_card")]
    responders = [c for c in cards if c["audience"] == "responders"]
    assert [c["card"] for c in responders] == ["reminder", "status_update"]
    assert responders[0]["late"] is True
    # The next update keeps to the hour the schedule fell due on: 8:00, the first after now.
    assert (await timers(deps, incident_id))["responders"].due_at == declared + timedelta(hours=8)


async def test_no_note_or_responder_update_reaches_a_stakeholder_or_a_client(deps):
    """A canary the team writes for itself (a note, a responder update) is in no email, SMS or
    stakeholder channel post: not the initial notice, a person's or an automatic stakeholder update,
    nor the resolution."""
    clock: FakeClock = deps.clock
    scheduler = Scheduler(deps.uow, CONFIG, clock)
    canary = "CANARY-7f3a suspect the Redis failover"
    incident_id = await declare(deps, client="Contoso")
    clock.advance(timedelta(minutes=5))
    await act(deps, incident_id, Verb.NOTE, note=canary)
    await act(deps, incident_id, Verb.POST_UPDATE, audience="responders", update=canary)
    await act(deps, incident_id, Verb.STATUS, status="investigating")
    await act(deps, incident_id, Verb.POST_UPDATE, audience="stakeholders", update="Payments fail for some shoppers")
    clock.advance(timedelta(minutes=10))
    await act(deps, incident_id, Verb.NOTE, note=canary)
    clock.advance(timedelta(hours=2))  # the next stakeholder update falls due: nobody posts it
    await scheduler.run_once()
    clock.advance(timedelta(minutes=10))
    await scheduler.run_once()
    await act(deps, incident_id, Verb.RESOLVE, summary="Rolled back 4.2")
    outside = [*await effects(deps, "email.send"), *await effects(deps, "sms.send"),
               *await effects(deps, "teams.stakeholder_post")]
    automatic = [p for p in await effects(deps, "teams.stakeholder_post")
                 if (p.payload.get("message") or {}).get("automatic")]
    assert automatic, "an automatic stakeholder update went out"
    client_mail = [p for p in await effects(deps, "email.send") if p.payload["to"][0][0] == "casey@contoso.example"]
    assert len(client_mail) == 4  # declared, the update, the automatic update, resolved
    for effect in outside:
        assert "CANARY-7f3a" not in str(effect.payload), effect.kind
