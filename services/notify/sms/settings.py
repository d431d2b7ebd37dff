"""SMS settings (environment variables or `.env`). SMS_PROVIDER picks the adapter:

- `acs`: Azure Communication Services. ACS_CONNECTION_STRING from the resource's Keys page,
  SMS_FROM a number (or alphanumeric sender id) the resource owns; ACS_SMS_ENDPOINT overrides the
  endpoint in the connection string (sovereign clouds, a local fake).
- `twilio`: TWILIO_ACCOUNT_SID + TWILIO_AUTH_TOKEN, and SMS_FROM or TWILIO_MESSAGING_SERVICE_SID;
  TWILIO_BASE_URL overrides https://api.twilio.com (a local fake).
- empty (or `none`): no SMS; the effects are recorded on the timeline as not sent.

An unknown SMS_PROVIDER is reported by `missing()` instead of failing validation, so
`python app.py` still starts and says what is wrong.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROVIDERS = ("acs", "twilio")
TWILIO_DEFAULT_BASE_URL = "https://api.twilio.com"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class SmsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    provider: str = Field("", validation_alias="SMS_PROVIDER")
    sender: str = Field("", validation_alias="SMS_FROM")
    timeout_seconds: float = Field(15.0, gt=0, validation_alias="SMS_TIMEOUT_SECONDS")
    acs_connection_string: SecretStr = Field(SecretStr(""), validation_alias="ACS_CONNECTION_STRING")
    acs_endpoint: str = Field("", validation_alias="ACS_SMS_ENDPOINT")
    twilio_account_sid: str = Field("", validation_alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: SecretStr = Field(SecretStr(""), validation_alias="TWILIO_AUTH_TOKEN")
    twilio_messaging_service_sid: str = Field("", validation_alias="TWILIO_MESSAGING_SERVICE_SID")
    twilio_base_url: str = Field(TWILIO_DEFAULT_BASE_URL, validation_alias="TWILIO_BASE_URL")

    @field_validator("provider")
    @classmethod
    def _normalise_provider(cls, value: str) -> str:
        value = (value or "").strip().lower()
        return "" if value == "none" else value

    @field_validator("acs_endpoint", "twilio_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return (value or "").strip().rstrip("/")

    def acs_credentials(self) -> tuple[str, str]:
        """(endpoint, access key) from the connection string, the endpoint override winning.
        Raises ValueError saying what is wrong with the connection string."""
        parts: dict[str, str] = {}
        for element in self.acs_connection_string.get_secret_value().split(";"):
            name, _, value = element.partition("=")
            if name.strip():
                parts[name.strip().lower()] = value.strip()
        endpoint = (self.acs_endpoint or parts.get("endpoint", "")).rstrip("/")
        key = parts.get("accesskey", "")
        if not endpoint or not key:
            raise ValueError("ACS_CONNECTION_STRING must look like "
                             "endpoint=https://<resource>.communication.azure.com/;accesskey=<key>")
        try:
            base64.b64decode(key, validate=True)
        except binascii.Error as error:
            raise ValueError("the accesskey in ACS_CONNECTION_STRING is not base64; copy it again "
                             "from the resource's Keys page") from error
        if "://" not in endpoint:
            endpoint = "https://" + endpoint
        return endpoint, key

    def missing(self) -> list[str]:
        """What stops SMS from working, in words for the start-up report."""
        if not self.provider:
            return ["SMS_PROVIDER is empty (acs or twilio)"]
        if self.provider not in PROVIDERS:
            return [f"SMS_PROVIDER {self.provider!r} is not one of {', '.join(PROVIDERS)}"]
        return self._acs_problems() if self.provider == "acs" else self._twilio_problems()

    @property
    def configured(self) -> bool:
        return not self.missing()

    def _acs_problems(self) -> list[str]:
        problems = []
        if not self.acs_connection_string.get_secret_value():
            problems.append("ACS_CONNECTION_STRING (the resource's Keys page) is empty")
        else:
            try:
                endpoint, _ = self.acs_credentials()
                problems.extend(url_problems("ACS_SMS_ENDPOINT" if self.acs_endpoint else
                                              "the endpoint in ACS_CONNECTION_STRING", endpoint))
            except ValueError as error:
                problems.append(str(error))
        if not self.sender:
            problems.append("SMS_FROM (a phone number of the ACS resource, E.164) is empty")
        return problems

    def _twilio_problems(self) -> list[str]:
        problems = [f"{name} is empty" for name, value in (
            ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
            ("TWILIO_AUTH_TOKEN", self.twilio_auth_token.get_secret_value())) if not value]
        if not self.sender and not self.twilio_messaging_service_sid:
            problems.append("SMS_FROM (a Twilio number, E.164) or TWILIO_MESSAGING_SERVICE_SID is needed")
        problems.extend(url_problems("TWILIO_BASE_URL", self.twilio_base_url or TWILIO_DEFAULT_BASE_URL))
        return problems


def url_problems(name: str, url: str) -> list[str]:
    """Why `url` cannot carry credentials: not http(s), or plain http to another machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"{name} {url!r} is not an http(s) URL"]
    if parts.scheme == "http" and parts.hostname.lower() not in LOCAL_HOSTS:
        return [f"{name} {url} is plain http: credentials must not travel in clear text (use https)"]
    return []

