"""Email updates from a client's status page, double opt-in: an address typed into the page's form
is sent a confirmation link (signed, expiring) and gets nothing else until it is followed; then it
gets each stakeholder update people post and each resolution notice of the client's incidents, in
the email the client's contacts get, until it unsubscribes (every email has a signed link, and the
List-Unsubscribe header). Subscribing twice never makes two subscriptions, nor two emails of one
update. A client's page takes at most `cap` subscriptions (STATUS_SUBSCRIBERS_PER_CLIENT) and sends
at most CONFIRMATIONS_PER_HOUR confirmations an hour, one per address every RESEND_AFTER, so a
shared link cannot be used to flood anyone's inbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.comms.messages import CLIENTS, RESOLUTION, UPDATE, compose, email
from services.comms.plan import routes_for
from services.config import BeaconConfig
from services.deps import Deps
from services.incidents import Incident, TimelineEvent
from services.intake.replies import replied, stakeholder_sequence
from services.status_page.effects import SubscriberEmail
from services.status_page.links import CONFIRM_TTL, StatusLinks
from services.status_page.mail import confirmation_email
from services.status_page.subscribers import CONFIRMED, PENDING, UNSUBSCRIBED, SubscriptionsFull
from services.status_page.tables import StatusSubscriptionRow
from services.status_page.usecases import LinkRefused
from services.store.uow import UnitOfWork

CONFIRMATIONS_PER_HOUR = 20
RESEND_AFTER = timedelta(minutes=15)
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,63}}")


class Asked(StrEnum):
    SENT = "sent"  # or nothing to send: the answer never tells whether an address is subscribed
    BAD_ADDRESS = "bad_address"
    FULL = "full"
    BUSY = "busy"


def address_of(typed: str) -> str | None:
    """The address as stored (lower case), or None unless it is a plain name@domain.tld."""
    address = typed.strip()
    local = address.rpartition("@")[0]
    if len(address) > 254 or len(local) > 64 or not ADDRESS.fullmatch(address):
        return None
    return address.lower()


async def subscribe(deps: Deps, links: StatusLinks, client: str, generation: int, typed: str, now: datetime,
                    *, cap: int) -> Asked:
    """The form's POST, for a link signed for `generation`: queue a confirmation email, unless the
    address is confirmed already or was sent one in the last RESEND_AFTER."""
    address = address_of(typed)
    if address is None:
        return Asked.BAD_ADDRESS
    async with deps.uow() as uow:
        if await uow.status_pages.generation(client) != generation:
            raise LinkRefused(client)
        subscriptions = uow.status_subscriptions
        if await subscriptions.confirmations_since(client, now - timedelta(hours=1)) >= CONFIRMATIONS_PER_HOUR:
            return Asked.BUSY
        row = await subscriptions.of_address(client, address, generation, now)
        if _needs_no_email(row, generation, now):
            return Asked.SENT
        try:
            number = await subscriptions.ask_confirmation(row, generation, now, cap=cap, pending_for=CONFIRM_TTL)
        except SubscriptionsFull:
            return Asked.FULL  # the transaction is not committed: not even the new row is kept
        if number is not None:
            mail = confirmation_email(client, address, links.confirm_url(client, row.id, address, generation, now),
                                      int(CONFIRM_TTL.total_seconds() // 3600))
            await uow.outbox.add(SubscriberEmail(row.id, f"confirm{number}", None, address, mail.subject, mail.html,
                                                 mail.text, "", f"status page confirmation to {address}"), now=now)
        await uow.commit()
    return Asked.SENT


def _needs_no_email(row: StatusSubscriptionRow, generation: int, now: datetime) -> bool:
    if row.generation != generation:  # made through a revoked link: it starts again
        return False
    if row.state == CONFIRMED:
        return True
    sent = row.last_confirmation_at
    return row.state == PENDING and sent is not None and now - sent < RESEND_AFTER


@dataclass(frozen=True)
class Subscription:
    id: int
    client: str
    address: str
    state: str
    generation: int
    current: bool  # made through the client's current status link (not a revoked one)


async def find(deps: Deps, client: str, subscription: int) -> Subscription | None:
    """The subscription a confirmation or unsubscribe link names, for its signature to be checked."""
    async with deps.uow() as uow:
        row = await uow.status_subscriptions.get(subscription)
        if row is None or row.client != client:
            return None
        current = await uow.status_pages.generation(client) == row.generation
        return Subscription(row.id, row.client, row.address, row.state, row.generation, current)


async def confirm(deps: Deps, subscription: int, now: datetime) -> str:
    """Confirm a pending subscription (the link's signature checked by the caller); returns its
    state after."""
    async with deps.uow() as uow:
        row = await uow.status_subscriptions.get(subscription)
        assert row is not None
        if row.state == PENDING:
            await uow.status_subscriptions.confirm(row, now)
            await uow.commit()
            return CONFIRMED
        return row.state


async def unsubscribe(deps: Deps, subscription: int, now: datetime) -> None:
    async with deps.uow() as uow:
        row = await uow.status_subscriptions.get(subscription)
        if row is not None and row.state != UNSUBSCRIBED:
            await uow.status_subscriptions.end(row, now)
            await uow.commit()


async def subscribers_told(uow: UnitOfWork, incident: Incident, config: BeaconConfig) -> list[StatusSubscriptionRow]:
    """The status-page subscribers a stakeholder update or the resolution of `incident` is emailed
    to: the confirmed subscriptions of its client, but an address that gets the client's stakeholder
    emails anyway (a contact in BEACON_CONFIG); nobody for a drill, or an incident of no client."""
    client = config.client(incident.client) if incident.client and not incident.drill else None
    if client is None:
        return []
    contacts = {r.email.lower() for r in routes_for(incident, config).stakeholder_emails}
    return [row for row in await uow.status_subscriptions.receiving(client.name) if row.address not in contacts]


class SubscriberUpdates:
    """An incident observer: each stakeholder update people post, and each resolution, of a
    client's incident reaches the client's subscribers, in the transaction of the change, as the
    email the client's contacts get (services.comms.messages) with an unsubscribe link. An
    address that gets the client's stakeholder emails anyway (a contact in BEACON_CONFIG) is not
    sent it twice."""

    def __init__(self, config: BeaconConfig, links: StatusLinks):
        self.config, self.links = config, links

    async def on_declared(self, uow: UnitOfWork, incident: Incident, now: datetime) -> None:
        return None

    async def on_changed(self, uow: UnitOfWork, incident: Incident, events: list[TimelineEvent],
                         now: datetime) -> None:
        told = [event for event in events if replied(event)]
        client = self.config.client(incident.client) if incident.client and told else None
        receiving = await subscribers_told(uow, incident, self.config) if client else []
        if client is None or not receiving:
            return
        generation = await uow.status_pages.current(client.name, now, "Beacon")
        page_url = self.links.url(client.name, generation, now)
        sequence = await stakeholder_sequence(uow, incident)
        for event in told:
            resolved = event.kind == "resolved"
            key = f"{incident.number}:" + (f"resolved:v{incident.version}" if resolved else f"update{sequence}")
            message = (compose(incident, self.config, RESOLUTION, CLIENTS, at=event.at) if resolved else
                       compose(incident, self.config, UPDATE, CLIENTS, at=event.at, sequence=sequence,
                               text=str((event.after or {}).get("text", ""))))
            for row in receiving:
                leave = self.links.unsubscribe_url(client.name, row.id, row.address)
                mail = email(message, page_url, leave)
                await uow.outbox.add(SubscriberEmail(row.id, key, incident.id, row.address, mail.subject,
                                                     mail.html, mail.text, leave,
                                                     f"{incident.number} status email to {row.address}"), now=now)
