"""sendMail in the fake Graph, as strict as Graph's documentation of it (user: sendMail):

- `Content-Type: application/json`: {"message": {...}, "saveToSentItems": ...}; one body, text or HTML.
- `Content-Type: text/plain`: the MIME message (headers and content), base64-encoded. Malformed
  content (not base64, or not a MIME message) is a 400, "Invalid base64 string for MIME content.".
  A MIME message is always kept in Sent Items.
- Any other content type is refused (415).
Both need at least one recipient. 202 Accepted, no body.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

INVALID_MIME = ("ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
NO_RECIPIENTS = ("ErrorInvalidRecipients", "At least one recipient is not valid.")


@dataclass
class SentMail:
    sender: str
    subject: str
    content_type: str  # "html" or "text": the body a reader sees first
    content: str
    to: list[str]
    cc: list[str]
    save_to_sent_items: bool | None
    message: dict[str, Any]  # the normalised message as sent (JSON shape, also for MIME)
    text: str = ""  # the plain-text body (a MIME message's text/plain part)
    mime: bool = False
    parts: list[str] = field(default_factory=list)  # a MIME message's content types, in order
    headers: dict[str, str] = field(default_factory=dict)  # a MIME message's header fields (last of each name)

    @property
    def html(self) -> str:
        return self.content if self.content_type.lower() == "html" else ""


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _addresses(recipients: list[dict[str, Any]] | None) -> list[str]:
    return [str((r.get("emailAddress") or {}).get("address", "")) for r in recipients or []]


def from_json(user: str, message: dict[str, Any], save_to_sent_items: bool | None) -> SentMail:
    to, cc = _addresses(message.get("toRecipients")), _addresses(message.get("ccRecipients"))
    if not to + cc + _addresses(message.get("bccRecipients")):
        raise Refused(400, *NO_RECIPIENTS)
    body = message.get("body") or {}
    kind, content = str(body.get("contentType", "text")), str(body.get("content", ""))
    return SentMail(user, message.get("subject", ""), kind, content, to, cc, save_to_sent_items, message,
                    text=content if kind.lower() == "text" else "")


def from_mime(user: str, raw: bytes) -> SentMail:
    try:
        decoded = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Refused(400, *INVALID_MIME) from None
    parsed = BytesParser(policy=email.policy.default).parsebytes(decoded)
    if not isinstance(parsed, EmailMessage) or parsed.defects or parsed.get("MIME-Version") is None:
        raise Refused(400, *INVALID_MIME)
    people = {name: [(n, a) for n, a in getaddresses(parsed.get_all(name, [])) if a] for name in ("To", "Cc", "Bcc")}
    if not any(people.values()):
        raise Refused(400, *NO_RECIPIENTS)
    bodies: dict[str, str] = {}
    parts = []
    for part in parsed.walk():
        if part.is_multipart():
            continue
        if part.defects:
            raise Refused(400, *INVALID_MIME)
        parts.append(part.get_content_type())
        if part.get_content_type() in ("text/plain", "text/html") and not part.is_attachment():
            bodies.setdefault(part.get_content_type(), str(part.get_content()).replace("\r\n", "\n"))
    if not bodies:
        raise Refused(400, *INVALID_MIME)
    html, text = bodies.get("text/html", ""), bodies.get("text/plain", "")
    message = {"subject": str(parsed.get("Subject", "")),
               **{f"{name.lower()}Recipients": [{"emailAddress": {"address": a, "name": n}} for n, a in found]
                  for name, found in people.items() if found},
               "body": {"contentType": "html" if html else "text", "content": html or text}}
    return SentMail(user, message["subject"], "html" if html else "text", html or text,
                    [a for _, a in people["To"]], [a for _, a in people["Cc"]], None, message,
                    text=text, mime=True, parts=parts, headers={k: str(v) for k, v in parsed.items()})
