"""SMS through Twilio's Programmable Messaging REST API (2010-04-01), over httpx.

One form-encoded POST per message, no retry loop (the outbox retries). Twilio's Messages API
takes no idempotency key, so a retry after a lost answer can send twice; the outbox keeps those
retries rare and the key still prevents Beacon from queueing the same SMS twice.
"""

from __future__ import annotations

import logging

from services.delivery import PermanentDeliveryError
from services.notify.sms import fit_sms, mask_phone
from services.notify.sms.settings import SmsSettings
from services.notify.twilio_rest import TwilioRest

log = logging.getLogger("beacon.sms")


class TwilioSmsSender:
    """The SmsSender port on Twilio. Close with `aclose()`."""

    provider = "twilio"

    def __init__(self, settings: SmsSettings) -> None:
        self._sender = settings.sender
        self._service_sid = settings.twilio_messaging_service_sid
        self._rest = TwilioRest(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(),
                                settings.twilio_base_url, settings.timeout_seconds)

    async def send_sms(self, to: str, text: str, *, idempotency_key: str) -> str:
        form = {"To": to, "Body": fit_sms(text)}
        # A Messaging Service picks the sender from its pool (and handles opt-outs), so it wins.
        if self._service_sid:
            form["MessagingServiceSid"] = self._service_sid
        else:
            form["From"] = self._sender
        who = mask_phone(to)
        data = await self._rest.call(f"send the SMS to {who}", "POST", f"{self._rest.account_path}/Messages.json",
                                     data=form)
        sid = data.get("sid")
        if not isinstance(sid, str) or not sid:
            raise PermanentDeliveryError(f"Twilio accepted the SMS to {who} but its answer has no sid")
        log.info("SMS to %s accepted by Twilio as %s", who, sid)
        return sid

    async def check(self) -> str:
        """Pre-flight for the doctor: reading the account proves the SID and token."""
        data = await self._rest.call("read the account", "GET", f"{self._rest.account_path}.json")
        name = data.get("friendly_name") or "?"
        return f"Twilio account {name!r} ({data.get('status', 'unknown status')}) accepts the credentials."

    async def aclose(self) -> None:
        await self._rest.aclose()
