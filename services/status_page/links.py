"""Signed, expiring, revocable links to a client's status page.

HMAC-SHA256 over the client's name, the link generation and the expiry. The generation is stored
per client (services.status_page.store): revoking bumps it, so every link handed out before stops
working at once, while the expiry bounds how long a forwarded link lasts anyway.

An email subscription has two links of its own, signed over other words so that no link stands in
for another: the confirmation link (the subscription, its address and generation, and an expiry of
CONFIRM_TTL) and the unsubscribe link (the subscription and its address, no expiry: an
unsubscribe link in an old email keeps working).

Each kind of link has one function that writes the words it signs, used both to sign a link and to
check one; signatures are compared with services.rotation.matches_any.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from services.rotation import matches_any

CONFIRM_TTL = timedelta(hours=48)
SIGNED = ("g", "expires", "sig")  # the query of a page link: what the page's own links carry on


def status_path(client: str, action: str = "", query: Mapping[str, object] | None = None) -> str:
    """The path of a client's status page (`action`: "feed", "subscribe", "confirm", "unsubscribe"),
    with `query`: the one place these addresses are written, the client's name quoted as one
    path segment (a "/" or "&" in it stays in the name)."""
    path = f"/status/{quote(client, safe='')}" + (f"/{action}" if action else "")
    return f"{path}?{urlencode({k: str(v) for k, v in query.items()})}" if query else path


def _page_words(client: str, generation: int, expires: int) -> str:
    return f"status:{client}:{generation}:{expires}"


def _confirm_words(client: str, subscription: int, address: str, generation: int, expires: int) -> str:
    return f"status-confirm:{client}:{subscription}:{address}:{generation}:{expires}"


def _unsubscribe_words(client: str, subscription: int, address: str) -> str:
    return f"status-unsubscribe:{client}:{subscription}:{address}"


class StatusLinks:
    def __init__(self, secret: str, base_url: str, ttl: timedelta):
        self._secret = secret.encode()
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl

    def _sign(self, words: str) -> str:
        return hmac.new(self._secret, words.encode(), hashlib.sha256).hexdigest()

    def _signed(self, words: str, query: Mapping[str, str]) -> bool:
        return matches_any(query.get("sig", ""), [self._sign(words)])

    def signed_query(self, client: str, generation: int, now: datetime) -> dict[str, str]:
        expires = int((now + self.ttl).timestamp())
        return {"g": str(generation), "expires": str(expires),
                "sig": self._sign(_page_words(client, generation, expires))}

    def url(self, client: str, generation: int, now: datetime) -> str:
        return self.base_url + status_path(client, query=self.signed_query(client, generation, now))

    def signed_generation(self, client: str, query: Mapping[str, str], now: datetime) -> int | None:
        """The generation a link to `client` was signed for, or None when its signature is wrong
        or it has expired (whether that generation is still current is the store's to say)."""
        try:
            generation, expires = int(query.get("g", "")), int(query.get("expires", ""))
        except ValueError:
            return None
        if not self._signed(_page_words(client, generation, expires), query):
            return None
        return generation if now.timestamp() <= expires else None

    def confirm_url(self, client: str, subscription: int, address: str, generation: int, now: datetime) -> str:
        expires = int((now + CONFIRM_TTL).timestamp())
        sig = self._sign(_confirm_words(client, subscription, address, generation, expires))
        return self.base_url + status_path(client, "confirm", {"s": subscription, "expires": expires, "sig": sig})

    def unsubscribe_url(self, client: str, subscription: int, address: str) -> str:
        sig = self._sign(_unsubscribe_words(client, subscription, address))
        return self.base_url + status_path(client, "unsubscribe", {"s": subscription, "sig": sig})

    def confirms(self, client: str, address: str, generation: int, query: Mapping[str, str], now: datetime) -> bool:
        """Whether `query` is a current confirmation link of this subscription (its address and
        generation read from the store)."""
        try:
            subscription, expires = int(query.get("s", "")), int(query.get("expires", ""))
        except ValueError:
            return False
        return (self._signed(_confirm_words(client, subscription, address, generation, expires), query)
                and now.timestamp() <= expires)

    def unsubscribes(self, client: str, address: str, query: Mapping[str, str]) -> bool:
        try:
            subscription = int(query.get("s", ""))
        except ValueError:
            return False
        return self._signed(_unsubscribe_words(client, subscription, address), query)


def subscription_of(query: Mapping[str, str]) -> int | None:
    """The subscription a confirmation or unsubscribe link names (its signature is checked once
    the subscription's address is read)."""
    value = query.get("s", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 12 else None  # "²".isdigit() too
