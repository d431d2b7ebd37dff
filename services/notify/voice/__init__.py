"""Paging by phone call: one adapter per provider (twilio.py), chosen by VOICE_PROVIDER, with the
call's words in twiml.py. Phone numbers are personal data: logs show their last four digits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.notify.voice.settings import VoiceSettings

if TYPE_CHECKING:
    from services.notify.voice.twilio import TwilioVoiceCaller


def build_voice_caller(settings: VoiceSettings, public_url: str) -> tuple[TwilioVoiceCaller | None, str]:
    """The configured caller and "", or None and the reason for the start-up report. The Twilio
    module is imported only when chosen."""
    missing = settings.missing(public_url)
    if missing:
        return None, "; ".join(missing)
    from services.notify.voice.twilio import TwilioVoiceCaller

    return TwilioVoiceCaller(settings), ""
