"""Process-wide settings from the environment (and a `.env` file), with CONTRACT.md's names.

Settings for each outside system live beside its adapter (services/graph/settings.py, ...);
this holds what the core needs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AliasChoices, BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from services.durations import Duration
from services.pacing import TEAMS_PER_CONVERSATION, Limit, parse_limits

# Teams' per-conversation limits as `7/PT1S,8/PT2S,…` (services/pacing.py); empty: unpaced.
# NoDecode: the environment gives the text as it is, not as JSON.
ConversationLimits = Annotated[tuple[Limit, ...], NoDecode,
                               BeforeValidator(lambda v: parse_limits(v) if isinstance(v, str) else v)]


APP_TYPES = {"singletenant": "SingleTenant", "userassignedmsi": "UserAssignedMSI", "multitenant": "MultiTenant"}


class SettingsError(ValueError):
    """Settings Beacon cannot start with; the message names each setting and its fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    host: str = Field("0.0.0.0", validation_alias="HOST")
    port: int = Field(3978, validation_alias="PORT")
    app_id: str = Field("", validation_alias=AliasChoices("MicrosoftAppId", "MICROSOFT_APP_ID"))
    app_password: str = Field("", validation_alias=AliasChoices("MicrosoftAppPassword",
                                                                "MICROSOFT_APP_PASSWORD"))
    # Azure creates new bots as SingleTenant or UserAssignedMSI only (multi-tenant creation is
    # deprecated); MultiTenant stays for registrations made before.
    app_type: str = Field("SingleTenant", validation_alias=AliasChoices("MicrosoftAppType",
                                                                        "MICROSOFT_APP_TYPE"))
    app_tenant_id: str = Field("", validation_alias=AliasChoices("MicrosoftAppTenantId",
                                                                 "MICROSOFT_APP_TENANT_ID"))
    openid_metadata_url: str = Field("", validation_alias="TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL")
    allowed_tenant_ids: str = Field("", validation_alias="ALLOWED_TENANT_IDS",
                                    description="comma-separated Entra tenant ids; empty: any tenant")
    database_url: str = Field("sqlite+aiosqlite:///beacon.db", validation_alias="DATABASE_URL")
    config_path: str = Field("config/beacon.yaml", validation_alias="BEACON_CONFIG")
    public_url: str = Field("", validation_alias="BEACON_PUBLIC_URL",
                            description="https://host where Teams and Graph reach Beacon")
    outbox_max_attempts: int = Field(6, validation_alias="OUTBOX_MAX_ATTEMPTS")
    outbox_idle_poll_seconds: float = Field(2.0, validation_alias="OUTBOX_IDLE_POLL_SECONDS")
    outbox_base_backoff_seconds: float = Field(1.0, validation_alias="OUTBOX_BASE_BACKOFF_SECONDS")
    outbox_concurrency: int = Field(8, ge=1, validation_alias="OUTBOX_CONCURRENCY",
                                    description="most deliveries in flight at once per process")
    teams_requests_per_second: float = Field(
        50.0, ge=0, validation_alias="TEAMS_REQUESTS_PER_SECOND",
        description="most Teams posts started per second per process (Teams allows an app 50 per tenant; "
                    "split it between replicas); 0: unpaced")
    teams_retry_horizon: Duration = Field(
        timedelta(hours=24), validation_alias="TEAMS_RETRY_HORIZON",
        description="how long a Teams post that fails transiently (429, 5xx, timeout) keeps being retried")
    teams_conversation_limits: ConversationLimits = Field(
        TEAMS_PER_CONVERSATION, validation_alias="TEAMS_CONVERSATION_LIMITS",
        description="Teams' per-bot limits in one conversation (a channel and its threads), as sends per "
                    "ISO 8601 duration; Beacon paces each conversation under them, shared by all replicas; "
                    "empty: unpaced")
    teams_catch_up_after: Duration = Field(
        timedelta(minutes=15), validation_alias="TEAMS_CATCH_UP_AFTER",
        description="a thread post that waited longer than this for Teams is folded, with the posts piled up "
                    "behind it, into one 'While Teams was unreachable' catch-up post")
    scheduler_idle_poll_seconds: float = Field(5.0, validation_alias="SCHEDULER_IDLE_POLL_SECONDS")
    shutdown_grace_seconds: float = Field(10.0, validation_alias="SHUTDOWN_GRACE_SECONDS")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    # After the incident (services/review): signed report links and reminder cadences.
    report_link_secret: str = Field("", validation_alias="REPORT_LINK_SECRET")
    report_link_ttl_days: int = Field(30, validation_alias="REPORT_LINK_TTL_DAYS")
    # Clients' status pages (GET /status/<client>): the links' secret and how long one lasts.
    status_link_secret: str = Field("", validation_alias="STATUS_LINK_SECRET")
    status_link_ttl_days: int = Field(90, ge=1, validation_alias="STATUS_LINK_TTL_DAYS")
    status_subscribers_per_client: int = Field(200, ge=0, validation_alias="STATUS_SUBSCRIBERS_PER_CLIENT")
    report_reminder_every: str = Field("P1D", validation_alias="REPORT_REMINDER_EVERY")
    report_pdf_fonts: str = Field("", validation_alias="REPORT_PDF_FONTS",
                                  description="comma-separated font files (TTF, OTF, TTC) the PDF report tries, "
                                              "before fontconfig's CJK font, for scripts DejaVu Sans lacks")
    review_window_business_days: int = Field(5, validation_alias="REVIEW_WINDOW_BUSINESS_DAYS")
    action_overdue_after: str = Field("P1D", validation_alias="ACTION_OVERDUE_AFTER")
    # Paging (services/paging): signed acknowledge links in SMS and email pages.
    ack_link_secret: str = Field("", validation_alias="ACK_LINK_SECRET")
    ack_link_ttl: str = Field("PT24H", validation_alias="ACK_LINK_TTL")

    @property
    def can_run_replicas(self) -> bool:
        """Beacon has no replica count of its own: on PostgreSQL several replicas can share the
        database (the Azure deployment runs up to maxReplicas of them); on SQLite only one runs."""
        try:
            return make_url(self.database_url).get_backend_name() == "postgresql"
        except ArgumentError:
            return False  # not a URL at all: the database check says so

    @property
    def allowed_tenants(self) -> frozenset[str]:
        return frozenset(t.strip() for t in self.allowed_tenant_ids.split(",") if t.strip())

    @property
    def auth_enabled(self) -> bool:
        return bool(self.app_id)

    @property
    def bot_app_type(self) -> str:
        """MicrosoftAppType as botbuilder spells it; MultiTenant (its unauthenticated mode) while
        MicrosoftAppId is empty, so `python app.py` starts with no registration at all."""
        if not self.app_id:
            return "MultiTenant"
        return APP_TYPES.get(self.app_type.strip().lower(), self.app_type)

    def registration_problem(self) -> str:
        """Why the bot registration settings cannot work, with the fix; '' when they can."""
        if not self.app_id:
            return ""
        kind = self.app_type.strip().lower()
        if kind not in APP_TYPES:
            return (f"MicrosoftAppType is {self.app_type!r}: use SingleTenant (an app registration and its client "
                    "secret), UserAssignedMSI (a user-assigned managed identity, no secret) or MultiTenant (only "
                    "for a registration created as multi-tenant)")
        name = APP_TYPES[kind]
        if kind != "multitenant" and not self.app_tenant_id.strip():
            default = " (the default)" if kind == "singletenant" else ""
            return (f"MicrosoftAppType is {name}{default}, which needs MicrosoftAppTenantId: set it to the "
                    "Directory (tenant) id of the bot's app registration (Azure portal → the Azure Bot → "
                    "Configuration → App Tenant ID)")
        if kind == "singletenant" and not self.app_password:
            return ("MicrosoftAppType is SingleTenant, which needs MicrosoftAppPassword: set it to a client secret "
                    f"of the app registration {self.app_id} (or MicrosoftAppType=UserAssignedMSI when "
                    "MicrosoftAppId is a user-assigned managed identity)")
        return ""

    def check_registration(self) -> None:
        if problem := self.registration_problem():
            raise SettingsError(problem)
