"""Signed, expiring, revocable links to a client's status page.

HMAC-SHA256 over the client's name, the link generation and the expiry. The generation is stored
per client (services.status_page.store): revoking bumps it, so every link handed out before stops
working at once, while the expiry bounds how long a forwarded link lasts anyway.

An email subscription has two links of its own, signed over other words so that no link stands in
for another: the confirmation link (the subscription, its address and generation, and an expiry of
CONFIRM_TTL) and the unsubscribe link (the subscription and its address, no expiry: an
unsubscribe link in an old email keeps working).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode


CONFIRM_TTL = timedelta(hours=48)


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

    def _sign(self, message: str) -> str:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def _page(self, client: str, action: str) -> str:
        return f"{self.base_url}/status/{quote(client, safe='')}/{action}"

    def confirm_url(self, client: str, subscription: int, address: str, generation: int, now: datetime) -> str:
        expires = int((now + CONFIRM_TTL).timestamp())
        sig = self._sign(f"status-confirm:{client}:{subscription}:{address}:{generation}:{expires}")
        return f"{self._page(client, 'confirm')}?{urlencode({'s': subscription, 'expires': expires, 'sig': sig})}"

    def unsubscribe_url(self, client: str, subscription: int, address: str) -> str:
        sig = self._sign(f"status-unsubscribe:{client}:{subscription}:{address}")
        return f"{self._page(client, 'unsubscribe')}?{urlencode({'s': subscription, 'sig': sig})}"

    def confirms(self, client: str, address: str, generation: int, query: dict[str, str], now: datetime) -> bool:
        """Whether `query` is a current confirmation link of this subscription (its address and
        generation read from the store)."""
        try:
            subscription, expires = int(query.get("s", "")), int(query.get("expires", ""))
        except ValueError:
            return False
        wanted = self._sign(f"status-confirm:{client}:{subscription}:{address}:{generation}:{expires}")
        return _same(wanted, query.get("sig", "")) and now.timestamp() <= expires

    def unsubscribes(self, client: str, address: str, query: dict[str, str]) -> bool:
        try:
            subscription = int(query.get("s", ""))
        except ValueError:
            return False
        return _same(self._sign(f"status-unsubscribe:{client}:{subscription}:{address}"), query.get("sig", ""))


def subscription_of(query: dict[str, str]) -> int | None:
    """The subscription a confirmation or unsubscribe link names (its signature is checked once
    the subscription's address is read)."""
    value = query.get("s", "")
    return int(value) if value.isdigit() and len(value) < 12 else None


def _same(wanted: str, given: str) -> bool:
    return given.isascii() and hmac.compare_digest(wanted, given)  # compare_digest refuses other text
