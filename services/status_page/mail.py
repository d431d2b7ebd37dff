"""The confirmation email an address typed into a status page's form is sent before it gets
anything, as a pure function; HTML and plain text say the same. The updates and resolution notices
a subscriber then gets are the clients' email of services.comms.messages, with its unsubscribe
link."""

from __future__ import annotations

import html

from services.comms.messages import Email

BOX = "font-family:Segoe UI,Arial,sans-serif;font-size:16px;line-height:1.5;max-width:600px;color:#1b1b1b"
QUIET = "color:#4a4a4a;font-size:14px"
BUTTON = ("display:inline-block;padding:10px 16px;background:#0b4f9c;color:#ffffff;text-decoration:none;"
          "border-radius:4px;font-weight:600")


def confirmation_email(client: str, address: str, confirm_url: str, hours: int) -> Email:
    subject = f"Confirm email updates about {client}'s service status"
    lines = [f"Someone (we hope you) asked on {client}'s status page for email updates about incidents "
             f"affecting {client}, sent to {address}.",
             f"To start getting them, confirm within {hours} hours:",
             "If you did not ask for this, ignore this email: nothing more will be sent to you."]
    page = (f"<div style='{BOX}'><h2 style='font-size:20px'>{html.escape(subject)}</h2>"
            f"<p>{html.escape(lines[0])}</p><p>{html.escape(lines[1])}</p>"
            f"<p><a href=\"{html.escape(confirm_url, quote=True)}\" style=\"{BUTTON}\">Confirm my subscription</a></p>"
            f"<p style='{QUIET}'>{html.escape(lines[2])}</p></div>")
    plain = "\n\n".join([subject, lines[0], f"{lines[1]}\n{confirm_url}", lines[2]])
    return Email(subject, page, plain)
