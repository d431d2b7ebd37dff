"""The small pages of a status page's email subscription, as plain HTML like the page itself (one
column, headings, no script): the answer to the form, and the confirmation and unsubscribe pages
an email links to. These two show one button that POSTs: a mail scanner that opens every link in
an email neither confirms nor ends a subscription."""

from __future__ import annotations

import html

from services.status_page.page import FORM_STYLE, STYLE


def subscribe_form(client: str, action: str) -> str:
    """The status page's "Email me updates" section."""
    name = html.escape(client)
    return (f'<section aria-labelledby="subscribe"><h2 id="subscribe">Email me updates</h2>'
            f'<form method="post" action="{html.escape(action, quote=True)}">'
            '<label for="email">Your email address</label>'
            '<input id="email" name="email" type="email" required maxlength="254" autocomplete="email" '
            'inputmode="email" spellcheck="false">'
            '<button type="submit">Email me updates</button></form>'
            f'<p class="quiet">We first email you a link to confirm. Then you get every update and resolution of '
            f"{name}'s incidents shown here; each email has a link to stop them.</p></section>")


def small_page(title: str, body: str, back: str = "") -> str:
    """A page with a heading and `body` (HTML); `back`: the status page's address, to return to."""
    link = f'<p><a href="{html.escape(back, quote=True)}">Back to the status page</a></p>' if back else ""
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta name=\"robots\" content=\"noindex\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}{FORM_STYLE}</style></head><body>"
            f"<main><h1>{html.escape(title)}</h1>{body}{link}</main></body></html>")


def button_page(title: str, text: str, action: str, button: str) -> str:
    return small_page(title, f"<p>{html.escape(text)}</p><form method=\"post\" "
                             f"action=\"{html.escape(action, quote=True)}\"><button type=\"submit\">"
                             f"{html.escape(button)}</button></form>")


def paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"
