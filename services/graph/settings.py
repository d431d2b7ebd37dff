"""Microsoft Graph settings, with CONTRACT.md's names (environment variables or `.env`).

Credentials, in order of precedence:
1. GRAPH_ACCESS_TOKEN: a static bearer token (local development, tests, fakes on any host).
2. AZURE_CLIENT_SECRET with AZURE_TENANT_ID and AZURE_CLIENT_ID: app-only client credentials.
3. Managed identity: GRAPH_USE_MANAGED_IDENTITY=true, or AZURE_CLIENT_ID given alone (no secret,
   no tenant), the convention azure-identity itself uses for a user-assigned identity. With the
   flag and no AZURE_CLIENT_ID the system-assigned identity is used. GRAPH_USE_MANAGED_IDENTITY=false
   turns the implicit choice off.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_BASE_URL = "https://graph.microsoft.com/v1.0"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

Feature = Literal["conferencing", "mail", "calling", "channels"]
CredentialKind = Literal["static-token", "client-secret", "managed-identity", "none"]


class GraphSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    base_url: str = Field(DEFAULT_BASE_URL, validation_alias="GRAPH_BASE_URL")
    tenant_id: str = Field("", validation_alias="AZURE_TENANT_ID")
    client_id: str = Field("", validation_alias="AZURE_CLIENT_ID")
    client_secret: SecretStr = Field(SecretStr(""), validation_alias="AZURE_CLIENT_SECRET")
    access_token: SecretStr = Field(SecretStr(""), validation_alias="GRAPH_ACCESS_TOKEN")
    use_managed_identity: bool | None = Field(None, validation_alias="GRAPH_USE_MANAGED_IDENTITY")
    organizer_user_id: str = Field("", validation_alias="GRAPH_ORGANIZER_USER_ID")
    mail_sender: str = Field("", validation_alias="MAIL_SENDER")
    meeting_mode: Literal["events", "onlineMeetings"] = Field("events", validation_alias="GRAPH_MEETING_MODE")
    bot_app_id: str = Field("", validation_alias=AliasChoices("MicrosoftAppId", "MICROSOFT_APP_ID"))
    caller_display_name: str = Field("Beacon", validation_alias="GRAPH_CALLER_DISPLAY_NAME")
    # Bounded so an outbox delivery never blocks for long; the outbox retries later instead.
    max_retries: int = Field(2, ge=0, le=10, validation_alias="GRAPH_MAX_RETRIES")
    retry_max_wait_seconds: float = Field(5.0, ge=0, validation_alias="GRAPH_RETRY_MAX_WAIT_SECONDS")
    retry_backoff_seconds: float = Field(0.5, ge=0, validation_alias="GRAPH_RETRY_BACKOFF_SECONDS")
    timeout_seconds: float = Field(20.0, gt=0, validation_alias="GRAPH_TIMEOUT_SECONDS")

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return (value or DEFAULT_BASE_URL).strip().rstrip("/")

    @property
    def host(self) -> str:
        return (urlsplit(self.base_url).hostname or "").lower()

    @property
    def scope(self) -> str:
        """`.default` of the Graph host in use, so sovereign clouds get tokens for their own Graph."""
        if urlsplit(self.base_url).scheme == "https" and self.host:
            return f"https://{self.host}/.default"
        return "https://graph.microsoft.com/.default"

    @property
    def credential_kind(self) -> CredentialKind:
        if self.access_token.get_secret_value():
            return "static-token"
        if self.client_secret.get_secret_value():
            return "client-secret"
        implicit = bool(self.client_id) and not self.tenant_id and self.use_managed_identity is None
        if self.use_managed_identity or implicit:
            return "managed-identity"
        return "none"

    @property
    def caller_app_id(self) -> str:
        """The calling bot is the Azure Bot registration; its app id is the call's source."""
        return self.bot_app_id or self.client_id

    def missing(self, feature: Feature | None = None) -> list[str]:
        """What stops Graph (or one feature of it) from working, in words for the start-up report."""
        problems = self._credential_problems() + self._base_url_problems()
        if feature == "conferencing" and not self.organizer_user_id:
            problems.append("GRAPH_ORGANIZER_USER_ID (the mailbox that organises bridge meetings) is empty")
        if feature == "mail" and not self.mail_sender:
            problems.append("MAIL_SENDER (the mailbox that sends email) is empty")
        if feature == "calling" and not self.caller_app_id:
            problems.append("MicrosoftAppId (the calling bot's app id) is empty")
        return problems

    @property
    def configured(self) -> bool:
        return not self.missing()

    def _credential_problems(self) -> list[str]:
        kind = self.credential_kind
        if kind == "none":
            return ["no Graph credentials: set GRAPH_ACCESS_TOKEN, or AZURE_TENANT_ID + AZURE_CLIENT_ID + "
                    "AZURE_CLIENT_SECRET, or GRAPH_USE_MANAGED_IDENTITY=true"]
        if kind == "client-secret":
            absent = [name for name, value in (("AZURE_TENANT_ID", self.tenant_id),
                                               ("AZURE_CLIENT_ID", self.client_id)) if not value]
            if absent:
                return [f"AZURE_CLIENT_SECRET is set but {' and '.join(absent)} is empty"]
        return []

    def _base_url_problems(self) -> list[str]:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return [f"GRAPH_BASE_URL {self.base_url!r} is not an http(s) URL"]
        # azure-identity tokens must not travel in clear text; the SDK refuses it too.
        insecure = parts.scheme == "http" and self.host not in LOCAL_HOSTS
        if insecure and self.credential_kind != "static-token":
            return [f"GRAPH_BASE_URL {self.base_url} is plain http: Azure credentials are only sent over "
                    "https (or to localhost); use https or GRAPH_ACCESS_TOKEN for a local fake"]
        return []
