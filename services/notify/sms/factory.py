"""Picks the SMS adapter from SMS_PROVIDER. The provider modules are imported only when chosen,
so a Twilio (or SMS-less) deployment never loads the Azure SDK."""

from __future__ import annotations

from services.notify.sms import SmsAdapter
from services.notify.sms.settings import SmsSettings


def build_sms_sender(settings: SmsSettings) -> tuple[SmsAdapter | None, str]:
    """The configured sender and "", or None and the reason for the start-up report."""
    missing = settings.missing()
    if missing:
        return None, "SMS not configured: " + "; ".join(missing)
    if settings.provider == "acs":
        from services.notify.sms.acs import AcsSmsSender

        return AcsSmsSender(settings), ""
    from services.notify.sms.twilio import TwilioSmsSender

    return TwilioSmsSender(settings), ""
