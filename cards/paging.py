"""The personal page card (a one-to-one message from Beacon to the person paged) and the small
HTML page behind a signed acknowledge link. Pure functions: an incident in, a card or HTML out."""

from __future__ import annotations

import html

from cards.elements import Json, card, container, execute, facts, plain, text, when
from services.incidents import Incident
from services.verbs import Verb


def page_card(incident: Incident, level: int, round_: int, note: str = "") -> Json:
    """What the person on call sees in their chat with Beacon: what is wrong, and Acknowledge.
    Level 0 is a page by hand: `note` says who paged and why."""
    heading = f"{'DRILL · ' if incident.drill else ''}You are paged: {incident.number} {incident.priority}"
    why = (f"Level {level}" + (f", round {round_}" if round_ > 1 else "") + " of the escalation policy") if level \
        else f"Paged by hand: {note}"
    body = [
        container([text(plain(heading), size="Large", weight="Bolder", color="attention"),
                   text(plain(incident.title), size="Medium", weight="Bolder")], style="attention"),
        facts([("Service", plain(incident.service) or "—"), ("Priority", plain(incident.priority)),
               ("Status", incident.status.value), ("Declared", when(incident.declared_at))]),
        text(plain(why), subtle=True),
    ]
    if incident.drill:
        body.insert(1, text("This is a DRILL: acknowledge it as you would a real page.", weight="Bolder"))
    data = {"incidentId": incident.id, "via": "teams", "level": level, "round": round_}
    return card(body, [execute("Acknowledge", Verb.ACKNOWLEDGE, data, style="positive")])


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>
body{{font-family:-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;padding:24px;max-width:32rem;
color:#1b1b1b;background:#fafafa}}
h1{{font-size:1.35rem;margin:0 0 .5rem}} p{{font-size:1.05rem;line-height:1.45}}
.facts{{color:#555}} .msg{{padding:12px 14px;border-radius:8px;background:#eef4ff}}
.bad{{background:#fdecea}} button{{font-size:1.2rem;padding:16px;width:100%;border:0;border-radius:8px;
background:#107c10;color:#fff;font-weight:600}}
</style></head><body>
{body}
</body></html>"""


def ack_page(incident: Incident, person_name: str, token: str) -> str:
    """GET of the link: the incident and a button; only the form's POST acknowledges."""
    title = f"{incident.label} · {incident.priority}"
    acknowledged = ""
    if incident.acknowledged_at is not None:
        who = incident.acknowledged_by.name if incident.acknowledged_by else "someone"
        acknowledged = f"<p class='msg'>Already acknowledged by {html.escape(who)}.</p>"
    form = ("" if acknowledged or not incident.is_open else
            f"<form method='post' action='/ack/{html.escape(token)}'>"
            f"<button type='submit'>Acknowledge as {html.escape(person_name)}</button></form>")
    drill = "<p><strong>DRILL</strong>: a training incident.</p>" if incident.drill else ""
    body = (f"<h1>{html.escape(title)}</h1>{drill}<p>{html.escape(incident.title)}</p>"
            f"<p class='facts'>Service: {html.escape(incident.service or '—')} · Status: "
            f"{html.escape(incident.status.value)}</p>{acknowledged}{form}")
    return _PAGE.format(title=html.escape(title), body=body)


def ack_message(message: str, *, ok: bool, title: str = "Beacon") -> str:
    """The answer to a POST, or a refused link: one sentence."""
    css = "msg" if ok else "msg bad"
    return _PAGE.format(title=html.escape(title), body=f"<h1>{html.escape(title)}</h1>"
                                                       f"<p class='{css}'>{html.escape(message)}</p>")
