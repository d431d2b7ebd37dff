"""The email a status page's subscriber gets (its confirmation, or one update or resolution
notice), one outbox row each, keyed by subscription and message so a retried transaction or a
crash mid-delivery never sends it twice; and its handler, through the same Mailer (Graph sendMail)
as every other email. An update carries List-Unsubscribe and List-Unsubscribe-Post (RFC 2369,
RFC 8058), so a mail client's own unsubscribe button works in one click."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.delivery import NotConfigured
from services.effects import ordering
from services.effects.base import KEY_ONLY, Channel, OutboxEffect
from services.outbox import Effect, EffectHandler
from services.ports import EmailMessage, Mailer, Recipient


@dataclass(frozen=True)
class SubscriberEmail(OutboxEffect):
    """Key `status-subscription:<id>:<message>` (message: `confirm2`, `INC-7:update3`,
    `INC-7:resolved:v9`)."""

    kind = "status.subscriber_email"
    channel = Channel.EMAIL
    subscription: int = field(metadata=KEY_ONLY)
    message: str = field(metadata=KEY_ONLY)
    incident_id: int | None
    address: str
    subject: str
    html: str
    text: str
    unsubscribe_url: str  # "" for the confirmation: nothing to unsubscribe from yet
    description: str

    @property
    def idempotency_key(self) -> str:
        return f"status-subscription:{self.subscription}:{self.message}"

    @property
    def ordering_key(self) -> str:
        return ordering.status_subscriber(self.subscription)


def subscriber_email_handler(mailer: Mailer | None) -> EffectHandler:
    async def send(effect: Effect) -> None:
        if mailer is None:
            raise NotConfigured("email (Graph sendMail)")
        payload = effect.payload
        unsubscribe = str(payload.get("unsubscribe_url") or "")
        headers = ((("List-Unsubscribe", f"<{unsubscribe}>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
                   if unsubscribe else ())
        await mailer.send_mail(EmailMessage((Recipient(str(payload["address"])),), str(payload["subject"]),
                                            str(payload["html"]), str(payload["text"]), headers=headers,
                                            key=effect.key))

    return send
