"""After the incident, on the Teams surface: report cards, review scheduling, follow-up actions,
`@Beacon actions` and `@Beacon metrics`, the signed GET /reports/INC-n, and the reminder loop."""

from __future__ import annotations

import asyncio
import base64
import ctypes
import gc
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from botbuilder.core import CardFactory, MessageFactory, TurnContext

from bot import context as ctx
from bot.client_summary import ClientSummaries
from bot.commands import Command
from bot.gate import positive_id
from bot.poster import TeamsPoster
from bot.report_form import ReportForms
from bot.wiring import Wiring, link_signing
from cards import review as cards
from cards.elements import Json
from services.delivery import DeliveryError, NotConfigured, PermanentDeliveryError
from services.deps import Deps
from services.durations import duration, span
from services.intake.links import CUSTOMER_ROLES
from services.intake.summary import customer_metric_rows
from services.outbox import Effect
from services.ports import MeetingRequest, Recipient
from services.review import store
from services.review.effects import CreateReviewEvent, ReviewThreadCard
from services.review.followups import complete_action
from services.review.links import ReportLinks
from services.review.meeting import review_event_failed, schedule_review
from services.review.settings import ReviewSettings
from services.review.tables import ActionItemRow
from services.review.usecases import ReportObserver, review_held
from services.review.worker import ReviewScheduler
from services.settings import Settings
from services.verbs import Verb

if TYPE_CHECKING:
    from services.review.fonts import PdfFonts

T = TypeVar("T")

log = logging.getLogger("beacon.review")
REVIEW_SCHEDULER = web.AppKey("review_scheduler", ReviewScheduler)
# Charts and PDFs are drawn here, never on the event loop (a PDF with CJK text takes seconds);
# two threads, so a burst of report requests queues instead of taking every default worker.
_DRAWING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="beacon-report")


async def off_loop(draw: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_DRAWING, _released, draw, *args)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # type: ignore[no-any-return]
    except (AttributeError, OSError, TypeError):  # not glibc (musl, macOS, Windows)
        return None


_TRIM = _malloc_trim()


_FROZEN = threading.Event()


def _released(draw: Callable[..., T], *args: Any) -> T:
    """Draw, then give back what the drawing used: a PDF's document and its parsed fonts, and a chart's
    figure, are reference cycles that would otherwise wait for a full collection, and the C allocator
    keeps freed memory unless asked to return it (about 10 MB after a PDF).

    A full collection holds the interpreter lock while it walks every object the process tracks
    (about 400,000 once the renderers are loaded: 110 to 140 ms, during which the event loop waits).
    After the first drawing, what is left is the process's long-lived state (modules, settings, the
    renderers themselves), so it is frozen (gc.freeze): later collections walk only what was made
    since, about 1 ms after each drawing, and the loop's own full collections get as cheap."""
    try:
        return draw(*args)
    finally:
        gc.collect()
        if not _FROZEN.is_set():
            _FROZEN.set()
            gc.freeze()
        if _TRIM is not None:
            _TRIM(0)


# The renderers load matplotlib and fpdf2 (about 60 MB) on the first chart, report or PDF of a
# process, not at start-up; the import, like the drawing, happens in the drawing thread, so the event
# loop never waits for it.
def _pdf(report: Any, fonts: Callable[[], PdfFonts]) -> bytes:
    from services.review.pdf import pdf_document

    return pdf_document(report, fonts())


def _html(report: Any) -> str:
    from services.review.render import html_page

    return html_page(report)


def _markdown(report: Any) -> str:
    from services.review.render import markdown

    return markdown(report)


def _bar_chart(title: str, labels: list[str], series: dict[str, list[float]], unit: str) -> bytes:
    from services.review.chart import bar_chart

    return bar_chart(title, labels, series, unit)


ChartKey = tuple[str, tuple[str, ...], tuple[tuple[str, tuple[float, ...]], ...], str]


class LastChart:
    """The last bar chart drawn, kept with exactly the numbers it shows. The metrics card's means
    change only when an incident of the 90 days is acknowledged, mitigated or resolved, or leaves
    the window, so asking again usually shows the same numbers: the same picture is reused instead
    of drawn again (a few hundred ms of the drawing thread, holding the interpreter lock much of
    that time, so the event loop waits too). Any changed number, label or title draws anew. One
    entry, kept per Beacon process."""

    def __init__(self) -> None:
        self._last: tuple[ChartKey, bytes] | None = None

    async def draw(self, title: str, labels: list[str], series: dict[str, list[float]], unit: str) -> bytes:
        key = (title, tuple(labels), tuple((name, tuple(values)) for name, values in series.items()), unit)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        png = await off_loop(_bar_chart, title, labels, series, unit)
        self._last = (key, png)
        return png


def review_settings(settings: Settings, notes: list[str]) -> ReviewSettings:
    secret, base = link_signing(settings, settings.report_link_secret, "REPORT_LINK_SECRET", "report links", notes)
    return ReviewSettings(
        links=ReportLinks(secret, base, timedelta(days=settings.report_link_ttl_days)),
        report_reminder_every=duration(settings.report_reminder_every),
        review_window_business_days=settings.review_window_business_days,
        action_overdue_after=duration(settings.action_overdue_after),
        pdf_fonts=tuple(path.strip() for path in settings.report_pdf_fonts.split(",") if path.strip()))


def _attachment(card: Json) -> Any:
    return MessageFactory.attachment(CardFactory.adaptive_card(card))


class ReviewSurface:
    def __init__(self, wiring: Wiring, settings: ReviewSettings):
        self.wiring, self.deps, self.settings = wiring, wiring.deps, settings
        self.poster = wiring.poster or TeamsPoster(wiring.adapter, wiring.deps)
        self.forms = ReportForms(wiring.deps, settings)
        self.client = ClientSummaries(wiring.deps)
        self.fonts: PdfFonts | None = None
        self._fonts_lock = threading.Lock()
        self._metrics_chart = LastChart()

    def _fonts(self) -> PdfFonts:
        """Found once, on the first PDF, in the drawing thread (fontconfig is asked then, not at start-up)."""
        with self._fonts_lock:
            if self.fonts is None:
                from services.review.fonts import PdfFonts

                self.fonts = PdfFonts(self.settings.pdf_fonts)
            return self.fonts

    @property
    def _d(self) -> Deps:
        return self.deps

    # -- outbox effects --------------------------------------------------------------------
    async def thread_card(self, effect: Effect) -> None:
        incident_id = int(effect.payload["incident_id"])
        card = await self._build(incident_id, effect.payload)
        await self.poster.reply_in_thread(incident_id, _attachment(card))

    async def _build(self, incident_id: int, p: dict[str, Any]) -> Json:
        if p.get("card") == "client_summary":
            return await self.client.card(incident_id)
        async with self.deps.uow() as uow:
            incident = await uow.incidents.get(incident_id)
            row = await uow.reviews.report(incident_id)
            timeline = await uow.timeline.of(incident_id) if p.get("card") == "drill_report" else []
        if incident is None:
            raise PermanentDeliveryError(f"INC-{incident_id} does not exist")
        kind = p.get("card")
        if kind in ("report_request", "report_reminder"):
            return cards.report_request_card(incident.label, incident_id, str(p.get("owner_name", "")),
                                             str(p.get("owner_id", "")), str(p.get("role", "")),
                                             title=incident.title, reminder=int(p.get("count", 0)))
        if kind == "report_summary":
            return cards.report_summary_card(incident.label, incident.title, incident_id, str(p["link"]),
                                             review_start=row.review_start if row else None,
                                             notice=str(p.get("notice") or ""), problem=bool(p.get("notice")))
        if kind == "action_reminder":
            return cards.action_reminder_card(incident.label, int(p["action_id"]), str(p["title"]),
                                              str(p["owner_name"]), str(p["owner_id"]),
                                              datetime.fromisoformat(str(p["due_at"])), bool(p.get("overdue")))
        end = incident.resolved_at or self.deps.clock.now()
        ack = incident.acknowledged_at
        return cards.drill_report_card(incident.label, incident.title, [
            ("Duration", span(end - incident.declared_at)),
            ("Time to acknowledge", span(ack - incident.declared_at) if ack else "not acknowledged"),
            ("Status updates", str(p.get("updates", 0))), ("Timeline entries", str(len(timeline))),
            ("Participants", str(len(incident.responders) + (1 if incident.commander else 0)))], str(p["link"]))

    async def create_event(self, effect: Effect) -> None:
        graph = self.wiring.graph
        if graph is None or graph.connection is None or graph.settings is None \
                or not graph.settings.organizer_user_id:
            problem = NotConfigured("review meeting (Graph calendar)")
            await review_event_failed(self.deps, self.settings, int(effect.payload["incident_id"]), str(problem))
            raise problem
        p = effect.payload
        from services.graph.meetings import EventsConferencing  # the Graph SDK loads only when used

        calendar = EventsConferencing(graph.connection.client, graph.settings.organizer_user_id)
        again = f"-{p['attempt']}" if int(p.get("attempt", 1)) > 1 else ""  # a new event once one failed
        try:
            await calendar.create_meeting(MeetingRequest(
                external_id=f"beacon-review-{p['incident_id']}{again}", subject=str(p["subject"]),
                body_html=str(p["body_html"]), start=datetime.fromisoformat(p["start"]),
                end=datetime.fromisoformat(p["end"]),
                attendees=tuple(Recipient(email, name) for email, name in p["attendees"])))
        except DeliveryError as error:
            if not error.transient or effect.last_attempt:  # the outbox gives up: the review can be rescheduled
                await review_event_failed(self.deps, self.settings, int(p["incident_id"]), str(error))
            raise

    # -- card actions ----------------------------------------------------------------------
    async def form(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        """The report form as a card (Action.Execute): again with its problems, or the summary."""
        form, message = await self.forms.answer(turn_context, verb, data, dialog=False)
        if form is not None:
            return form
        return await self._summary(positive_id(data.get("incidentId"), "incidentId"), message)

    async def _summary(self, incident_id: int, notice: str) -> Json:
        async with self.deps.uow() as uow:
            incident = await uow.incidents.get(incident_id)
            row = await uow.reviews.report(incident_id)
        assert incident is not None
        link = self.settings.links.url(incident_id, self.deps.clock.now())
        return cards.report_summary_card(incident.label, incident.title, incident_id, link, notice=notice,
                                         review_start=row.review_start if row else None,
                                         held=bool(row and row.review_held_at))

    async def schedule(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        incident_id = positive_id(data.get("incidentId"), "incidentId")
        _, start = await schedule_review(self.deps, self.settings, incident_id, data,
                                         ctx.actor(turn_context.activity))
        return await self._summary(incident_id, f"Review scheduled for {start:%Y-%m-%d %H:%M} UTC.")

    async def held(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        incident_id = positive_id(data.get("incidentId"), "incidentId")
        await review_held(self.deps, incident_id, ctx.actor(turn_context.activity))
        return await self._summary(incident_id, "Review recorded as held.")

    async def complete(self, turn_context: TurnContext, verb: Verb, data: dict[str, Any]) -> Json:
        action_id = positive_id(data.get("actionId"), "actionId")
        done = await complete_action(self.deps, action_id, ctx.actor(turn_context.activity))
        return await self._actions_card("Action completed." if done else "That action was already complete.")

    async def _actions_card(self, notice: str = "") -> Json:
        async with self.deps.uow() as uow:
            rows: list[ActionItemRow] = await uow.reviews.open_actions()
            labels = {r.incident_id: f"INC-{r.incident_id}" for r in rows}
        return cards.actions_card([(r.id, labels[r.incident_id], r.title, r.owner_name, r.due_at, r.overdue)
                                   for r in rows], notice)

    # -- commands and routes ----------------------------------------------------------------
    async def actions_command(self, turn_context: TurnContext, command: Command) -> None:
        await turn_context.send_activity(_attachment(await self._actions_card()))

    async def metrics_command(self, turn_context: TurnContext, command: Command) -> None:
        await turn_context.send_activity(_attachment(await self.metrics_card()))

    async def metrics_card(self) -> Json:
        async with self.deps.uow() as uow:
            now = self.deps.clock.now()
            m = await uow.reviews.metrics(now)
            paging = await uow.paging_metrics.summary_rows(now)
            customers = customer_metric_rows(await uow.tickets.customer_metrics(CUSTOMER_ROLES, most=10, now=now))
        priorities = sorted(set(m.acknowledge) | set(m.mitigate) | set(m.resolve)) or ["—"]
        series = {name: [data.get(p, (0, 0.0))[1] / 60 for p in priorities]
                  for name, data in (("acknowledge", m.acknowledge), ("mitigate", m.mitigate),
                                     ("resolve", m.resolve))}
        png = await self._metrics_chart.draw("Mean minutes per priority", priorities, series, "minutes")
        rows = [(f"{p} (mean)", " · ".join(f"{name} {span(timedelta(seconds=data[p][1]))}"
                                           for name, data in (("ack", m.acknowledge), ("mitigate", m.mitigate),
                                                              ("resolve", m.resolve)) if p in data))
                for p in priorities if p != "—"]
        weeks = ", ".join(f"{w}: {n}" for w, n in m.per_week.items()) or "none"
        rows += [("Incidents per week, last 90 days", weeks),
                 ("Status updates, last 90 days", f"{m.updates.get('on_time', 0)} on time, "
                                                  f"{m.updates.get('late', 0)} late, "
                                                  f"{m.updates.get('automatic', 0)} automatic"),
                 ("Overdue actions", f"{m.overdue_actions} of {m.open_actions} open"), *paging, *customers]
        return cards.metrics_card(base64.b64encode(png).decode(), rows)

    async def report_route(self, request: web.Request) -> web.StreamResponse:
        number = request.match_info["number"].upper().removeprefix("INC-")
        if not (number.isascii() and number.isdigit()) or len(number) > 9:  # "²".isdigit() too
            return web.json_response({"error": "use /reports/INC-<number>"}, status=400)
        incident_id = int(number)
        query = request.query
        signature = query.get("sig", "")
        if not self.settings.links.valid(incident_id, query.get("expires", ""), signature, self.deps.clock.now()):
            return web.json_response({"error": "the report link is invalid or has expired"}, status=403)
        async with self.deps.uow() as uow:
            incident = await uow.incidents.get(incident_id)
            if incident is None:
                return web.json_response({"error": f"INC-{incident_id} does not exist"}, status=404)
            report = await store.load_report(uow, incident, self.deps.clock.now())
        report.forms = self.settings.links.forms(incident_id, query.get("expires", ""), signature)
        fmt = query.get("format", "html")
        if fmt == "md":
            return web.Response(text=await off_loop(_markdown, report), content_type="text/markdown",
                                charset="utf-8")
        if fmt == "pdf":
            body = await off_loop(_pdf, report, self._fonts)
            return web.Response(body=body, content_type="application/pdf", headers={
                "Content-Disposition": f"inline; filename=INC-{incident_id}-report.pdf"})
        page = await off_loop(_html, report)  # draws a chart
        return web.Response(text=page, content_type="text/html", charset="utf-8")


def wire_review(wiring: Wiring) -> None:
    settings = review_settings(wiring.settings, wiring.not_configured)
    surface = ReviewSurface(wiring, settings)
    wiring.deps.observers.append(ReportObserver(wiring.deps.config, settings))
    wiring.handlers[ReviewThreadCard] = surface.thread_card
    wiring.handlers[CreateReviewEvent] = surface.create_event
    for verb, route in ((Verb.REVIEW_REPORT_SUBMIT, surface.form), (Verb.REVIEW_REPORT_ADD_ROW, surface.form),
                        (Verb.REVIEW_SCHEDULE, surface.schedule),
                        (Verb.REVIEW_HELD, surface.held), (Verb.REVIEW_ACTION_COMPLETE, surface.complete),
                        (Verb.REVIEW_CLIENT_APPROVE, surface.client.approve_on_card),
                        (Verb.REVIEW_CLIENT_EDIT, surface.client.edit_on_card),
                        (Verb.REVIEW_CLIENT_SAVE, surface.client.edit_on_card)):
        wiring.card_actions.register(verb, route)  # what it refuses is answered as Teams' error
    if wiring.bot is not None:
        for verb in (Verb.REVIEW_REPORT_FORM, Verb.REVIEW_REPORT_ADD_ROW, Verb.REVIEW_REPORT_SUBMIT):
            wiring.bot.register_dialog(verb.value, surface.forms.dialog)
        for verb in (Verb.REVIEW_CLIENT_EDIT, Verb.REVIEW_CLIENT_SAVE, Verb.REVIEW_CLIENT_APPROVE):
            wiring.bot.register_dialog(verb.value, surface.client.dialog)
        wiring.bot.register_command("actions", surface.actions_command)
        wiring.bot.register_command("metrics", surface.metrics_command)
    wiring.app.router.add_get("/reports/{number}", surface.report_route)
    scheduler = ReviewScheduler(wiring.deps.uow, settings, wiring.deps.clock,
                                idle_poll=wiring.settings.scheduler_idle_poll_seconds)
    wiring.app[REVIEW_SCHEDULER] = scheduler
    # Started and stopped with the outbox and the incident scheduler: on stop its pass in flight
    # finishes within the grace period like theirs, instead of being cancelled at once.
    wiring.runners.append(scheduler)
