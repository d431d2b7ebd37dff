"""BEACON_CONFIG: the incident process as data (matrix, channels, services, directory, roles).

Validated on start: a bad file stops start-up with a message naming the key.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.alerts.routing import AlertRoutingConfig, routing_problems
from services.durations import Duration
from services.freshdesk.inbound import ReportTriageConfig
from services.incidents.priority import DEFAULT_MATRIX, PriorityMatrix
from services.paging.config import OncallConfig, oncall_problems

LEVELS = ("high", "medium", "low")


class ConfigError(Exception):
    """The process configuration is unusable; the message names the key and the problem."""




class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonEntry(Strict):
    name: str
    aad_object_id: str = ""
    email: str = ""
    phone: str = ""


class TeamEntry(Strict):
    name: str
    members: list[PersonEntry] = []
    email: str = ""


class ClientEntry(Strict):
    name: str
    aliases: list[str] = []
    email_domains: list[str] = []
    account_owner: PersonEntry | None = None
    contacts: list[PersonEntry] = []


class VendorEntry(Strict):
    name: str
    kind: Literal["hosting", "vendor"] = "vendor"
    contacts: list[PersonEntry] = []


class Directory(Strict):
    product_head: PersonEntry | None = None
    teams: list[TeamEntry] = []
    clients: list[ClientEntry] = []
    vendors: list[VendorEntry] = []
    stakeholders: list[PersonEntry] = []


class ServiceEntry(Strict):
    name: str
    team: str = ""
    criticality: Literal["high", "medium", "low"] = "medium"
    escalation_policy: str = ""  # a name in oncall.escalation_policies: its alerts page people


class ChannelsConfig(Strict):
    incidents_channel: str = Field("", description="19:...@thread.tacv2; empty: where declared")
    stakeholder_channel: str = ""
    triage_channel: str = ""
    # Incidents declared (or re-assessed) at these priorities get a standard channel of their own,
    # inc-<n>-<title>, in the incidents channel's team; it is archived when the incident closes.
    dedicated_for: list[str] = []


class RolesConfig(Strict):
    incident_admins: list[str] = Field([], description="aadObjectIds allowed to resolve any incident")
    # When true, only responders act on incidents: members of directory.teams, incident admins,
    # and each incident's declarer, commander and assigned responders. Others can read.
    restrict_to_responders: bool = False
    # Guests (Teams guests, and people of another organisation in a shared channel, such as a
    # client's contacts) can read incidents; with "post_updates" they can also post status updates.
    guests: Literal["read", "post_updates"] = "read"
    # People Beacon has not seen in a team roster yet (it looks them up in the background after
    # their first click): "read" until then, or "member" to trust them as members meanwhile.
    unknown_people: Literal["read", "member"] = "read"


class BridgeConfig(Strict):
    # When set, addresses typed into the bridge picker must be at one of these domains or at a
    # domain of the directory's clients, vendors or teams. Empty: any address (responders only).
    allowed_invite_domains: list[str] = []


class CommunicationsConfig(Strict):
    responder_update_high: Duration = timedelta(hours=1)
    responder_update_other: Duration = timedelta(hours=3)
    stakeholder_update: Duration = timedelta(hours=2)
    grace: Duration = timedelta(minutes=10)
    # An update that fires this much after its due time (Beacon was down) is marked late.
    late_after: Duration = timedelta(seconds=30)


class StatusConfig(Strict):
    # GET /status: a page anyone can read listing current and recent incidents, with no client
    # names (clients' own pages, behind signed links, are always on).
    public: bool = False


class BeaconConfig(Strict):
    version: str = "1"
    priority_matrix: dict[str, dict[str, str]] = Field(default_factory=lambda: DEFAULT_MATRIX)
    channels: ChannelsConfig = ChannelsConfig()
    services: list[ServiceEntry] = []
    directory: Directory = Directory()
    roles: RolesConfig = RolesConfig()
    bridge: BridgeConfig = BridgeConfig()
    communications: CommunicationsConfig = CommunicationsConfig()
    alert_routing: AlertRoutingConfig = AlertRoutingConfig()
    report_triage: ReportTriageConfig = ReportTriageConfig()
    status: StatusConfig = StatusConfig()
    oncall: OncallConfig = OncallConfig()

    @model_validator(mode="after")
    def _check(self) -> BeaconConfig:
        for impact in LEVELS:
            row = self.priority_matrix.get(impact)
            if row is None:
                raise ValueError(f"priority_matrix.{impact}: missing (need high, medium and low)")
            for urgency in LEVELS:
                if not row.get(urgency):
                    raise ValueError(f"priority_matrix.{impact}.{urgency}: missing")
        extra = set(self.priority_matrix) - set(LEVELS)
        if extra:
            raise ValueError(f"priority_matrix.{sorted(extra)[0]}: unknown level (use high, medium, low)")
        for problem in routing_problems(self.alert_routing, [s.name for s in self.services]):
            raise ValueError(problem)
        teams = {t.name for t in self.directory.teams}
        for i, service in enumerate(self.services):
            if service.team and teams and service.team not in teams:
                raise ValueError(f"services.{i}.team: {service.team!r} is not a team in directory.teams")
        priorities = {p for row in self.priority_matrix.values() for p in row.values()}
        for i, priority in enumerate(self.channels.dedicated_for):
            if priority not in priorities:
                raise ValueError(f"channels.dedicated_for.{i}: {priority!r} is not a priority of priority_matrix "
                                 f"(it has {', '.join(sorted(priorities))})")
        problems = oncall_problems(self.oncall, self.directory_keys(), teams, priorities,
                                   [(s.name, s.escalation_policy) for s in self.services])
        if problems:  # all of them at once: a paging set-up is usually fixed in one sitting
            raise ValueError("\n".join(problems))
        return self

    def directory_people(self) -> list[PersonEntry]:
        """The organisation's own people (teams, the Product Head, stakeholders): who can be paged."""
        head = [self.directory.product_head] if self.directory.product_head else []
        return [m for team in self.directory.teams for m in team.members] + head + self.directory.stakeholders

    def directory_keys(self) -> set[str]:
        """Emails and aad ids of the directory's people, lower case."""
        return {key.lower() for p in self.directory_people() for key in (p.email, p.aad_object_id) if key}

    @property
    def matrix(self) -> PriorityMatrix:
        return PriorityMatrix(self.priority_matrix)

    def client(self, name: str) -> ClientEntry | None:
        return next((c for c in self.directory.clients if c.name == name), None)

    def service(self, name: str) -> ServiceEntry | None:
        return next((s for s in self.services if s.name == name), None)

    def fingerprint(self) -> str:
        """A short hash so each incident can record exactly which process it ran under."""
        raw = self.model_dump_json().encode()
        return f"{self.version}-{hashlib.sha256(raw).hexdigest()[:8]}"


def _describe(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        # A check across keys (the model's own) names its key at the start of its message.
        lines += [f"{source}: {where}: {line}" if where else f"{source}: {line}" for line in message.splitlines()]
    return "\n".join(lines)


def parse_config(data: Any, source: str = "BEACON_CONFIG") -> BeaconConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys")
    try:
        return BeaconConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, source)) from None


def load_config(path: str | Path) -> BeaconConfig:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"BEACON_CONFIG: {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return parse_config(data, str(path))
