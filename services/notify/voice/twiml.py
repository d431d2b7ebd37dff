"""What a paging call says (TwiML), and the check that a callback really comes from Twilio.

TwiML is built with ElementTree, so an incident title full of `<`, `&` or quotes is spoken as text
and can never add a verb. Inline TwiML has no document URL, so every URL in it is absolute. A call
created with inline TwiML may carry at most 4,000 characters of it (Twilio error 32018): the title
is cut well before that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

ACK_DIGIT = "1"
GATHER_SECONDS = 8  # silence after the prompt before Twilio posts an empty answer
MAX_SPOKEN_TITLE = 300
TWIML_LIMIT = 4000
_UNSPEAKABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML 1.0


@dataclass(frozen=True)
class SpokenPage:
    """The facts a call reads out."""

    number: str  # INC-12
    priority: str
    title: str
    service: str
    drill: bool = False

    @property
    def incident(self) -> str:
        """"incident 12": a speech engine reads "INC-12" letter by letter."""
        return "incident " + self.number.removeprefix("INC-")


def _clean(text: str, limit: int) -> str:
    text = " ".join(_UNSPEAKABLE.sub(" ", text).split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def _document(*verbs: ET.Element) -> str:
    response = ET.Element("Response")
    response.extend(verbs)
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(response, encoding="unicode")


def _say(text: str) -> ET.Element:
    say = ET.Element("Say")
    say.text = text
    return say


def _gather(action: str, *prompts: str) -> ET.Element:
    """One key, posted to `action`; with no key at all Twilio posts there too (actionOnEmptyResult),
    so Beacon decides between asking again and saying goodbye."""
    gather = ET.Element("Gather", {"input": "dtmf", "numDigits": "1", "timeout": str(GATHER_SECONDS),
                                   "action": action, "method": "POST", "actionOnEmptyResult": "true"})
    for prompt in prompts:
        gather.append(_say(prompt))
    return gather


def page_twiml(page: SpokenPage, action: str) -> str:
    """The call: who is calling and why, then "press 1 to acknowledge"."""
    opening = "This is Beacon. This is a drill, not a real incident." if page.drill else "This is Beacon."
    service = f" Service: {_clean(page.service, 100)}." if page.service else ""
    facts = f"You are paged for {page.incident}, priority {page.priority}: {_clean(page.title, MAX_SPOKEN_TITLE)}."
    # At most 300 + 100 characters of outside text, each at most 5 once escaped ("&amp;"): far
    # below TWIML_LIMIT with the fixed words and a callback URL.
    return _document(_gather(action, opening, facts + service, f"Press {ACK_DIGIT} to acknowledge {page.incident}."))


def reprompt_twiml(page_incident: str, pressed: str, action: str) -> str:
    heard = f"You pressed {pressed}." if pressed else "Beacon did not hear a key."
    return _document(_gather(action, f"{heard} Press {ACK_DIGIT} to acknowledge {page_incident}, or hang up."))


def goodbye_twiml(message: str) -> str:
    return _document(_say(message + " Goodbye."), ET.Element("Hangup"))


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """X-Twilio-Signature: HMAC-SHA1 under the auth token of the full URL Twilio requested followed by
    each POST parameter's name and value, sorted by name, base64-encoded."""
    data = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def valid_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str) -> bool:
    return bool(signature) and hmac.compare_digest(twilio_signature(auth_token, url, params), signature)
