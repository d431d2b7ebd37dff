"""Outbox handlers for email and SMS: thin calls through the Mailer and SmsSender ports."""

from __future__ import annotations

from services.delivery import NotConfigured
from services.outbox import Effect, EffectHandler
from services.ports import EmailMessage, Mailer, Recipient, SmsSender


def email_handler(mailer: Mailer | None) -> EffectHandler:
    async def send(effect: Effect) -> None:
        if mailer is None:
            raise NotConfigured("email (Graph sendMail)")
        payload = effect.payload
        message = EmailMessage(to=tuple(Recipient(email, name) for email, name in payload["to"]),
                               subject=str(payload["subject"]), html=str(payload["html"]),
                               text=str(payload["text"]), key=effect.key)
        await mailer.send_mail(message)

    return send


def sms_handler(sender: SmsSender | None) -> EffectHandler:
    async def send(effect: Effect) -> None:
        if sender is None:
            raise NotConfigured("SMS")
        await sender.send_sms(str(effect.payload["to"]), str(effect.payload["text"]),
                              idempotency_key=effect.key)

    return send
