"""Voice settings (environment variables or `.env`). VOICE_PROVIDER picks the adapter:

- `twilio`: Twilio Programmable Voice with the same TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and
  TWILIO_BASE_URL as Twilio SMS. VOICE_FROM is the caller id (a voice-capable Twilio number or a
  verified caller id; SMS_FROM when empty). Twilio posts the key press and the call's outcome to
  BEACON_PUBLIC_URL, so that must be an address Twilio can reach.
- empty (or `none`): no calls; voice pages are recorded on the timeline as not sent.

An unknown VOICE_PROVIDER is reported by `missing()` instead of failing validation, so
`python app.py` still starts and says what is wrong.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notify.sms.settings import LOCAL_HOSTS, TWILIO_DEFAULT_BASE_URL, url_problems

PROVIDERS = ("twilio",)


class VoiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    provider: str = Field("", validation_alias="VOICE_PROVIDER")
    sender: str = Field("", validation_alias="VOICE_FROM")
    sms_sender: str = Field("", validation_alias="SMS_FROM")
    # How long the phone rings before Twilio gives up (Twilio's Timeout; its default of 60 s
    # usually ends in voicemail, which cannot press 1).
    ring_seconds: int = Field(30, ge=5, le=600, validation_alias="VOICE_RING_SECONDS")
    timeout_seconds: float = Field(15.0, gt=0, validation_alias="VOICE_TIMEOUT_SECONDS")
    twilio_account_sid: str = Field("", validation_alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: SecretStr = Field(SecretStr(""), validation_alias="TWILIO_AUTH_TOKEN")
    twilio_base_url: str = Field(TWILIO_DEFAULT_BASE_URL, validation_alias="TWILIO_BASE_URL")

    @field_validator("provider")
    @classmethod
    def _normalise_provider(cls, value: str) -> str:
        value = (value or "").strip().lower()
        return "" if value == "none" else value

    @field_validator("twilio_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return (value or "").strip().rstrip("/")

    @property
    def caller_id(self) -> str:
        return self.sender or self.sms_sender

    def missing(self, public_url: str) -> list[str]:
        """What stops calls from working, in words for the start-up report and the doctor."""
        if not self.provider:
            return ["VOICE_PROVIDER is empty (twilio)"]
        if self.provider not in PROVIDERS:
            return [f"VOICE_PROVIDER {self.provider!r} is not one of {', '.join(PROVIDERS)}"]
        problems = [f"{name} is empty" for name, value in (
            ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
            ("TWILIO_AUTH_TOKEN", self.twilio_auth_token.get_secret_value())) if not value]
        if not self.caller_id:
            problems.append("VOICE_FROM (a voice-capable Twilio number or verified caller id, E.164) is empty, "
                            "and so is SMS_FROM")
        problems.extend(url_problems("TWILIO_BASE_URL", self.twilio_base_url or TWILIO_DEFAULT_BASE_URL))
        problems.extend(callback_problems(public_url))
        return problems


def callback_problems(public_url: str) -> list[str]:
    """Twilio posts the key press to BEACON_PUBLIC_URL: it must be set and reachable from outside."""
    if not public_url:
        return ["BEACON_PUBLIC_URL is empty: Twilio posts the key press (1 to acknowledge) and the call's "
                "outcome there, so set it to Beacon's public https address"]
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"BEACON_PUBLIC_URL {public_url!r} is not an http(s) URL"]
    if parts.hostname.lower() in LOCAL_HOSTS:
        return [f"BEACON_PUBLIC_URL {public_url} is this machine only: Twilio cannot post key presses to it "
                "(expose Beacon, e.g. behind a reverse proxy or a tunnel, and set its public address)"]
    return []
