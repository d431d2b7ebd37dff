"""What every answer of a client's status page carries over HTTP (bot.status_page, and its email
subscription in bot.status_subscriptions): the same security and cache headers, and the same
refusal of a link that does not work. A browser (Accept: text/html) gets a small HTML page,
anything else JSON ({"error": …} for a refusal)."""

from __future__ import annotations

from aiohttp import web

from services.status_page.forms import button_page, paragraph, small_page

CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'"  # forms post to Beacon
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
           "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
REFUSED = "the status link is invalid, has expired or was revoked: ask your account manager for a new one"


def wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def document(text: str, content_type: str = "text/html", status: int = 200, **headers: str) -> web.Response:
    """A page (or feed) of the status page, with its headers."""
    return web.Response(text=text, status=status, content_type=content_type, charset="utf-8",
                        headers={**HEADERS, **headers})


def answer(request: web.Request, title: str, text: str, status: int = 200, back: str = "",
           **headers: str) -> web.Response:
    """An HTML page for a browser; else JSON, {"error": …} for a refusal."""
    if wants_html(request):
        return document(small_page(title, paragraph(text), back), status=status, **headers)
    return web.json_response({"error": text} if status >= 400 else {"message": text}, status=status,
                             headers={**HEADERS, **headers})


def ask(request: web.Request, title: str, text: str, button: str) -> web.Response:
    """A page with one button that POSTs to the same address (JSON: what it would do)."""
    if wants_html(request):
        return document(button_page(title, text, request.path_qs, button))
    return web.json_response({"message": f"{text} POST to this address to do it."}, headers=HEADERS)


def refused(request: web.Request, done: str = "") -> web.Response:
    """403 for a status link that is forged, expired or revoked; `done`: what did not happen
    ("Nothing was saved")."""
    text = f"{done}: {REFUSED}." if done else REFUSED[0].upper() + REFUSED[1:] + "."
    return answer(request, "This link does not work", text, 403)
