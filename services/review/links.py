"""Signed, expiring links to a report: HMAC-SHA256 over the incident number and the expiry (one
function signs and checks), compared with services.rotation.matches_any."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlencode

from services.rotation import matches_any


class ReportLinks:
    def __init__(self, secret: str, base_url: str, ttl: timedelta):
        self._secret = secret.encode()
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl

    def _signature(self, incident_id: int, expires: int) -> str:
        message = f"INC-{incident_id}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, incident_id: int, now: datetime, *, fmt: str = "") -> str:
        expires = int((now + self.ttl).timestamp())
        query = {"expires": str(expires), "sig": self._signature(incident_id, expires)}
        if fmt:
            query["format"] = fmt
        return f"{self.base_url}/reports/INC-{incident_id}?{urlencode(query)}"

    def forms(self, incident_id: int, expires: str, signature: str) -> dict[str, str]:
        """The same signed link in each form (HTML, Markdown, PDF): each form links the others."""
        query = {"expires": expires, "sig": signature}
        base = f"{self.base_url}/reports/INC-{incident_id}"
        return {fmt: f"{base}?{urlencode(query | ({'format': fmt} if fmt != 'html' else {}))}"
                for fmt in ("html", "md", "pdf")}

    def valid(self, incident_id: int, expires: str, signature: str, now: datetime) -> bool:
        try:
            moment = int(expires)
        except ValueError:
            return False
        return matches_any(signature, [self._signature(incident_id, moment)]) and now.timestamp() <= moment
