"""Signed acknowledge links: `{BEACON_PUBLIC_URL}/ack/<token>` in an SMS or an email page.

The token names the incident, the person paged (by a digest of their directory key), how (SMS or
email link), the level and round of the page, an expiry and a nonce, signed with HMAC-SHA256 under
ACK_LINK_SECRET (shared by every replica, so any of them accepts a link another made). It is packed
into 34 bytes (46 characters) so an SMS keeps room for the incident's title within one segment.
Only a POST of the page's form acknowledges, so link previews and mail scanners that fetch the link
change nothing, and a link acknowledges at most once (its nonce is recorded with the acknowledgement).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.rotation import matches_any

VIAS = ("sms_link", "email_link", "voice", "teams")
_LAYOUT = struct.Struct(">IIBBB5s6s")  # incident, expires, level, round, via, nonce, person digest
_SIGNATURE = 12  # bytes of HMAC-SHA256 kept: 96 bits, beyond guessing within a link's lifetime
TOKEN_LENGTH = len(base64.urlsafe_b64encode(bytes(_LAYOUT.size + _SIGNATURE)).rstrip(b"="))


class LinkRefused(Exception):
    """Forged, tampered with, expired or malformed; the message says which, for the person holding it."""


@dataclass(frozen=True)
class AckClaim:
    incident_id: int
    person: str  # the directory key of the person paged
    via: str
    level: int
    round: int
    expires: datetime
    nonce: str

    @property
    def use_key(self) -> str:
        """Recorded when the link acknowledges, so it cannot acknowledge again."""
        return f"ack-link:{self.incident_id}:{self.nonce}"


def person_digest(key: str) -> bytes:
    return hashlib.sha256(key.lower().encode()).digest()[:6]


class AckLinks:
    def __init__(self, secret: str, public_url: str, ttl: timedelta):
        self._secret = secret.encode()
        self.base_url = public_url.rstrip("/")
        self.ttl = ttl

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:_SIGNATURE]

    def token(self, incident_id: int, person: str, via: str, now: datetime, *, level: int = 0, round_: int = 0) -> str:
        body = _LAYOUT.pack(incident_id, int((now + self.ttl).timestamp()), min(level, 255), min(round_, 255),
                            VIAS.index(via), secrets.token_bytes(5), person_digest(person))
        return base64.urlsafe_b64encode(body + self._sign(body)).decode().rstrip("=")

    def url(self, incident_id: int, person: str, via: str, now: datetime, *, level: int = 0, round_: int = 0) -> str:
        return f"{self.base_url}/ack/{self.token(incident_id, person, via, now, level=level, round_=round_)}"

    def verify(self, token: str, now: datetime, people: Iterable[str]) -> AckClaim:
        """The claim of a genuine, unexpired token; `people` are the directory keys it may name."""
        if len(token) != TOKEN_LENGTH or not token.isascii():
            raise LinkRefused("This acknowledge link is not valid.")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise LinkRefused("This acknowledge link is not valid.") from None
        if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
            # base64's last character carries spare bits: only the one spelling Beacon wrote is the link
            raise LinkRefused("This acknowledge link is not valid: it was changed, or not made by this Beacon.")
        body, signature = raw[:_LAYOUT.size], raw[_LAYOUT.size:]
        if not matches_any(signature.hex(), [self._sign(body).hex()]):
            raise LinkRefused("This acknowledge link is not valid: it was changed, or not made by this Beacon.")
        incident_id, expires, level, round_, via, nonce, digest = _LAYOUT.unpack(body)
        person = next((key for key in people if person_digest(key) == digest), None)
        if person is None or via >= len(VIAS):
            raise LinkRefused("This acknowledge link names someone who is no longer in Beacon's directory.")
        if now.timestamp() > expires:
            raise LinkRefused("This acknowledge link has expired. Acknowledge in Teams, or wait for the next page.")
        return AckClaim(incident_id, person, VIAS[via], level, round_, datetime.fromtimestamp(expires, UTC),
                        nonce.hex())
