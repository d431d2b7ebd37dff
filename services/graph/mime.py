"""An email as Graph's sendMail takes it in MIME format: multipart/alternative with a plain-text
part first and the HTML part last (readers show the last part they can render), the whole
message base64-encoded in a `Content-Type: text/plain` request body.

Graph's JSON sendMail carries one body, text or HTML; MIME is the only way to send both, so
people whose mail client or watch shows plain text read sentences, not markup.
"""

from __future__ import annotations

import base64
import email.policy
import hashlib
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid

from services.graph.meetings import unique_recipients
from services.html_text import html_to_text
from services.ports import EmailMessage, Recipient

# Graph wants a plain-text request body for MIME (application/json is the JSON format).
CONTENT_TYPE = "text/plain"


def _addresses(recipients: tuple[Recipient, ...]) -> list[Address]:
    return [Address(display_name=r.name or "", addr_spec=r.email.strip()) for r in unique_recipients(recipients)]


def message_id(key: str, sender: str) -> str:
    """A Message-ID that is the same for every send of one outbox row: a mail system that drops a
    message whose Message-ID it has seen shows a repeated send once."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}.beacon@{sender.rpartition('@')[2] or 'localhost'}>"


def mime_message(message: EmailMessage, sender: str) -> MimeMessage:
    mime = MimeMessage(policy=email.policy.SMTP)  # CRLF line ends, as RFC 5322 has them
    mime["From"] = Address(addr_spec=sender)
    mime["To"] = _addresses(message.to)
    if message.cc:
        mime["Cc"] = _addresses(message.cc)
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(usegmt=True)
    mime["Message-ID"] = message_id(message.key, sender) if message.key else make_msgid(
        domain=sender.rpartition("@")[2] or None)
    for name, value in message.headers:
        mime[name] = value
    mime.set_content(message.text.strip() or html_to_text(message.html), subtype="plain", charset="utf-8")
    if message.html:
        mime.add_alternative(message.html, subtype="html", charset="utf-8")
    return mime


def send_mail_content(message: EmailMessage, sender: str) -> bytes:
    """The request body of POST /users/{sender}/sendMail in MIME format."""
    return base64.b64encode(mime_message(message, sender).as_bytes())
