"""Signed, expiring, revocable links to a client's status page.

HMAC-SHA256 over the client's name, the link generation and the expiry. The generation is stored
per client (services.status_page.store): revoking bumps it, so every link handed out before stops
working at once, while the expiry bounds how long a forwarded link lasts anyway.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode


class StatusLinks:
    def __init__(self, secret: str, base_url: str, ttl: timedelta):
        self._secret = secret.encode()
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl

    def _signature(self, client: str, generation: int, expires: int) -> str:
        message = f"status:{client}:{generation}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, client: str, generation: int, now: datetime) -> str:
        expires = int((now + self.ttl).timestamp())
        query = {"g": str(generation), "expires": str(expires), "sig": self._signature(client, generation, expires)}
        return f"{self.base_url}/status/{quote(client, safe='')}?{urlencode(query)}"

    def signed_generation(self, client: str, query: dict[str, str], now: datetime) -> int | None:
        """The generation a link to `client` was signed for, or None when its signature is wrong
        or it has expired (whether that generation is still current is the store's to say)."""
        signature = query.get("sig", "")
        try:
            generation, expires = int(query.get("g", "")), int(query.get("expires", ""))
        except ValueError:
            return None
        if not signature.isascii():  # compare_digest refuses other text
            return None
        if not hmac.compare_digest(self._signature(client, generation, expires), signature):
            return None
        return generation if now.timestamp() <= expires else None
