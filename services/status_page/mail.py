"""The emails of a status page's subscribers, as pure functions: the confirmation an address is
sent before it gets anything, and each stakeholder update and resolution notice of the client's
incidents in the words the status page shows (the update's own text, the incident's title,
state and impact window, what fixed it), never internal notes or anyone's name. Each says how to
stop; HTML and plain text say the same."""

from __future__ import annotations

import html
from datetime import datetime

from services.comms.messages import Email
from services.durations import span
from services.incidents import Incident
from services.status_page.page import STATE

BOX = "font-family:Segoe UI,Arial,sans-serif;font-size:16px;line-height:1.5;max-width:600px;color:#1b1b1b"
QUIET = "color:#4a4a4a;font-size:14px"
BUTTON = ("display:inline-block;padding:10px 16px;background:#0b4f9c;color:#ffffff;text-decoration:none;"
          "border-radius:4px;font-weight:600")


def _when(moment: datetime) -> str:
    return f"{moment:%d %b %Y, %H:%M} UTC"


def _html(text: str) -> str:
    return html.escape(text.strip()).replace("\n", "<br>")


def _link(url: str, label: str, style: str = "color:#0b4f9c") -> str:
    return f'<a href="{html.escape(url, quote=True)}" style="{style}">{html.escape(label)}</a>'


def confirmation_email(client: str, address: str, confirm_url: str, hours: int) -> Email:
    subject = f"Confirm email updates about {client}'s service status"
    lines = [f"Someone (we hope you) asked on {client}'s status page for email updates about incidents "
             f"affecting {client}, sent to {address}.",
             f"To start getting them, confirm within {hours} hours:",
             "If you did not ask for this, ignore this email: nothing more will be sent to you."]
    page = (f"<div style='{BOX}'><h2 style='font-size:20px'>{html.escape(subject)}</h2>"
            f"<p>{html.escape(lines[0])}</p><p>{html.escape(lines[1])}</p>"
            f"<p>{_link(confirm_url, 'Confirm my subscription', BUTTON)}</p>"
            f"<p style='{QUIET}'>{html.escape(lines[2])}</p></div>")
    plain = "\n\n".join([subject, lines[0], f"{lines[1]}\n{confirm_url}", lines[2]])
    return Email(subject, page, plain)


def _window(incident: Incident) -> str:
    started = incident.impact_started_at or incident.declared_at
    if incident.is_open:
        return f"since {_when(started)}"
    ended = incident.resolved_at or started
    return f"from {_when(started)} to {_when(ended)} ({span(ended - started)})"


def _letter(client: str, incident: Incident, heading: str, rows: list[tuple[str, str]], page_url: str,
            unsubscribe_url: str) -> Email:
    subject = f"{client} status: {incident.title} ({heading})"[:200]
    state = f"{STATE[incident.status]}, {_window(incident)}"
    shown = [("Status:", state), *rows]
    why = f"You get this email because you subscribed to {client}'s incident updates."
    see = f"See every current incident on {client}'s status page"
    body = "".join(f"<p><b>{html.escape(label)}</b> {_html(value)}</p>" for label, value in shown)
    page = (f"<div style='{BOX}'><h2 style='font-size:20px'>{html.escape(incident.title)}</h2>{body}"
            + (f"<p>{_link(page_url, see)}</p>" if page_url else "")
            + f"<p style='{QUIET}'>Reference {html.escape(incident.number)}. {html.escape(why)} "
            f"{_link(unsubscribe_url, 'Unsubscribe')}</p></div>")
    plain = [incident.title, ""] + [f"{label} {value.strip()}" for label, value in shown]
    if page_url:
        plain += ["", f"{see}: {page_url}"]
    plain += ["", f"Reference {incident.number}. {why}", f"Unsubscribe: {unsubscribe_url}"]
    return Email(subject, page, "\n".join(plain))


def update_email(client: str, incident: Incident, text: str, at: datetime, page_url: str,
                 unsubscribe_url: str) -> Email:
    return _letter(client, incident, "update", [(f"Update, {_when(at)}:", text)], page_url, unsubscribe_url)


def resolution_email(client: str, incident: Incident, page_url: str, unsubscribe_url: str) -> Email:
    fixed = incident.resolution_summary.strip()
    return _letter(client, incident, "resolved", [("What fixed it:", fixed)] if fixed else [], page_url,
                   unsubscribe_url)
