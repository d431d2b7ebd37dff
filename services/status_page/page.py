"""A client's status page as plain server-rendered HTML. Pure.

Readable on a phone (one column, system font, no fixed widths), accessible (headings in order, a
language, text with at least 7:1 contrast, times in <time> elements, no script needed), and
optionally refreshing itself once a minute through a link (a <meta> refresh, no script). It shows
only what was written for stakeholders: each incident's title, impact window, state in plain
words, the stakeholder updates people posted (never responder updates, notes, Beacon's
automatic updates or anyone's name), and what fixed it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from services.comms.plan import STAKEHOLDERS
from services.durations import span
from services.incidents import Incident, Status, TimelineEvent

REFRESH_SECONDS = 60
STATE = {Status.TRIAGE: "Investigating", Status.INVESTIGATING: "Investigating", Status.FIXING: "Fix in progress",
         Status.VERIFYING: "Checking the fix", Status.MONITORING: "Fixed, being monitored",
         Status.RESOLVED: "Resolved", Status.CLOSED: "Resolved"}
STYLE = """
body{margin:0;overflow-wrap:anywhere;font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1b1b1b;background:#fff}
main,header,footer{max-width:46rem;margin:0 auto;padding:0 1rem}
h1{font-size:1.6rem;margin:1.5rem 0 .25rem}h2{font-size:1.3rem;margin:2rem 0 .5rem}h3{font-size:1.1rem;margin:0}
article{border:1px solid #767676;border-radius:.4rem;padding:.75rem 1rem;margin:.75rem 0}
.state{font-weight:600}.open{color:#8a1c00}.resolved{color:#0b5a1e}
ol{padding-left:1.25rem}li{margin:.5rem 0}time{font-weight:600}
a{color:#0b4f9c}p{margin:.4rem 0}.quiet{color:#4a4a4a}
"""

FORM_STYLE = """
form{margin:.75rem 0}label{display:block;font-weight:600;margin:.25rem 0}
input{font:inherit;width:100%;max-width:24rem;box-sizing:border-box;padding:.5rem;border:1px solid #767676;
border-radius:.3rem}
button{font:inherit;font-weight:600;margin-top:.5rem;padding:.5rem 1rem;color:#fff;background:#0b4f9c;border:0;
border-radius:.3rem}
"""


@dataclass(frozen=True)
class StatusUpdate:
    at: datetime
    text: str


def stakeholder_updates(events: Sequence[TimelineEvent]) -> list[StatusUpdate]:
    """What people wrote for stakeholders, in order: no responder or automatic updates."""
    return [StatusUpdate(e.at, str((e.after or {}).get("text", ""))) for e in events
            if e.kind == "status_update" and (e.after or {}).get("audience") == STAKEHOLDERS
            and not (e.after or {}).get("automatic")]


def _when(moment: datetime) -> str:
    return (f'<time datetime="{moment.isoformat(timespec="minutes")}">'
            f"{moment:%d %b %Y, %H:%M} UTC</time>")


def _text(value: str) -> str:
    return html.escape(value.strip()).replace("\n", "<br>")


def without_names(names: Sequence[str]) -> Callable[[str], str]:
    """For the public page: each of these client names (and aliases), as a whole word in any case,
    becomes "a client"."""
    words = sorted({n.strip() for n in names if n.strip()}, key=len, reverse=True)
    if not words:
        return lambda text: text
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)
    return lambda text: pattern.sub("a client", text)


def _incident(incident: Incident, events: Sequence[TimelineEvent], said: Callable[[str], str]) -> str:
    started = incident.impact_started_at or incident.declared_at
    state = STATE[incident.status]
    if incident.is_open:
        window = f"Since {_when(started)}"
    else:
        ended = incident.resolved_at or started
        window = f"From {_when(started)} to {_when(ended)} ({span(ended - started)})"
    updates = stakeholder_updates(events)
    parts = [f"<article aria-labelledby=\"inc-{incident.id}\"><h3 id=\"inc-{incident.id}\">"
             f"{html.escape(said(incident.title))}</h3>",
             f"<p><span class=\"state {'open' if incident.is_open else 'resolved'}\">{state}</span> · {window}</p>"]
    if updates:
        items = "".join(f"<li>{_when(u.at)}: {_text(said(u.text))}</li>" for u in updates)
        parts.append(f"<p>Updates:</p><ol>{items}</ol>")
    elif incident.is_open:
        parts.append("<p class=\"quiet\">We are looking into it; the first update follows shortly.</p>")
    if not incident.is_open and incident.resolution_summary.strip():
        parts.append(f"<p>What fixed it: {_text(said(incident.resolution_summary))}</p>")
    parts.append(f"<p class=\"quiet\">Reference {html.escape(incident.number)}</p></article>")
    return "".join(parts)


def status_page(client: str | None, incidents: Sequence[tuple[Incident, Sequence[TimelineEvent]]], now: datetime,
                *, days: int, refresh_url: str, still_url: str, feed_url: str, refreshing: bool,
                said: Callable[[str], str] = lambda text: text, subscribe: str = "") -> str:
    """The whole page: one client's, or (`client` None) the public one, whose text goes through
    `said` (without_names). `refresh_url` is this page refreshing itself, `still_url` without,
    `feed_url` its Atom feed ("": none), `subscribe` the "Email me updates" form's HTML."""
    name = html.escape(client or "")
    current = [pair for pair in incidents if pair[0].is_open]
    recent = [pair for pair in incidents if not pair[0].is_open]
    sections = ["<h2>Current incidents</h2>",
                "".join(_incident(i, e, said) for i, e in current) or "<p>No current incidents.</p>",
                f"<h2>Past {days} days</h2>",
                "".join(_incident(i, e, said) for i, e in recent) or f"<p>No incidents in the past {days} days.</p>"]
    title = f"{name}: service status" if client else "Service status"
    heading = f"Service status for {name}" if client else "Service status"
    follow = f' · <a href="{html.escape(feed_url)}">Follow in a feed reader (Atom)</a>' if feed_url else ""
    alternate = (f'<link rel="alternate" type="application/atom+xml" title="{title}" href="{html.escape(feed_url)}">'
                 if feed_url else "")
    closing = ("Questions? Reply to any of our emails about an incident, or contact your account manager. This "
               "page is for your organisation: please do not share its address." if client else
               "Questions? Contact our support team.")
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refreshing else ""
    robots = '<meta name="robots" content="noindex">' if client else ""  # a client's page is not for search engines
    toggle = (f'<a href="{html.escape(still_url)}">Stop refreshing</a>' if refreshing else
              f'<a href="{html.escape(refresh_url)}">Refresh this page every minute</a>')
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"{robots}{meta}<title>{title}</title>{alternate}"
            f"<style>{STYLE}{FORM_STYLE if subscribe else ''}</style></head><body>"
            f"<header><h1>{heading}</h1><p class=\"quiet\">As of {_when(now)}. {toggle}{follow}</p></header>"
            f"<main>{''.join(sections)}{subscribe}</main>"
            f"<footer><p class=\"quiet\">{closing}</p></footer></body></html>")


def atom_feed(client: str, incidents: Sequence[tuple[Incident, Sequence[TimelineEvent]]], now: datetime, *,
              page_url: str, feed_url: str) -> str:
    """The same news as an Atom feed (RFC 4287) for a feed reader: an entry per stakeholder update
    and per resolution, newest first."""
    entries: list[tuple[datetime, str, str, str]] = []  # (updated, id, title, text)
    for incident, events in incidents:
        for number, update in enumerate(stakeholder_updates(events), start=1):
            entries.append((update.at, f"{incident.number}/update/{number}", f"{incident.title}: update", update.text))
        if not incident.is_open and incident.resolved_at is not None:
            fixed = incident.resolution_summary.strip()
            entries.append((incident.resolved_at, f"{incident.number}/resolved/{incident.resolved_at:%Y%m%dT%H%M%S}",
                            f"{incident.title}: resolved", f"Resolved. What fixed it: {fixed}" if fixed else "Resolved."))
    entries.sort(key=lambda entry: entry[0], reverse=True)
    tag = f"tag:beacon,2026:status/{quote(client, safe='')}"
    updated = max((entry[0] for entry in entries), default=now)
    body = "".join(
        f"<entry><id>{html.escape(f'{tag}/{key}')}</id><title>{html.escape(title)}</title>"
        f"<updated>{at.isoformat()}</updated><link rel=\"alternate\" href=\"{html.escape(page_url)}\"/>"
        f"<content type=\"text\">{html.escape(text)}</content></entry>" for at, key, title, text in entries)
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"
            f"<id>{html.escape(tag)}</id><title>{html.escape(client)}: service status</title>"
            f"<updated>{updated.isoformat()}</updated><author><name>{html.escape(client)} status</name></author>"
            f"<link rel=\"self\" href=\"{html.escape(feed_url)}\"/><link rel=\"alternate\" type=\"text/html\" "
            f"href=\"{html.escape(page_url)}\"/>{body}</feed>")
