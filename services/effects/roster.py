"""The Teams effects of installs and the team roster (services/installs.py, services/roster.py):
reading a team's members after an install, looking up one person who acted before the roster
named them, and a hello Teams failed during the install. None shares an ordering key with an
incident's thread."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.effects import ordering
from services.effects.base import KEY_ONLY, Channel, OutboxEffect


@dataclass(frozen=True)
class ReadRoster(OutboxEffect):
    """Read a team's members from Teams, page by page, into the roster Beacon keeps (after an
    install; `since` names the install, so each install reads once)."""

    kind = "teams.read_roster"
    channel = Channel.TEAMS
    team_id: str
    service_url: str
    tenant_id: str
    description: str
    since: str = field(metadata=KEY_ONLY)

    @property
    def idempotency_key(self) -> str:
        return f"roster:{self.team_id}:read:{self.since}"

    @property
    def ordering_key(self) -> str:
        return ordering.team_roster(self.team_id)


@dataclass(frozen=True)
class LookUpMember(OutboxEffect):
    """Ask Teams about one person who acted before the roster named them: in `conversation_id`
    (where they acted), kept under `team_id` (the team, or the chat outside any team)."""

    kind = "teams.look_up_member"
    channel = Channel.TEAMS
    team_id: str
    conversation_id: str
    user_id: str
    aad_object_id: str
    service_url: str
    tenant_id: str
    description: str
    hour: str = field(metadata=KEY_ONLY)  # asked again at most once an hour while they stay unknown

    @property
    def idempotency_key(self) -> str:
        return f"roster:{self.team_id}:member:{self.user_id}:{self.hour}"

    @property
    def ordering_key(self) -> str:
        return ordering.roster_member(self.team_id, self.user_id)


@dataclass(frozen=True)
class Welcome(OutboxEffect):
    """Beacon's hello where it was installed, when Teams failed it during the install's own turn:
    retried like any other post, once per install (`since` names the install)."""

    kind = "teams.welcome"
    channel = Channel.TEAMS
    conversation_id: str
    service_url: str
    tenant_id: str
    description: str
    since: str = field(metadata=KEY_ONLY)

    @property
    def idempotency_key(self) -> str:
        return f"install:{self.conversation_id}:welcome:{self.since}"

    @property
    def ordering_key(self) -> str:
        return ordering.install(self.conversation_id)


@dataclass(frozen=True)
class CheckChannelKinds(OutboxEffect):
    """After an install in a team: ask Graph whether each configured channel is a standard one
    (services/channel_kinds.py), once per install (`since` names it); a private or shared one is
    logged as an error with the fix."""

    kind = "graph.check_channel_kinds"
    channel = Channel.GRAPH
    team_id: str
    description: str
    since: str = field(metadata=KEY_ONLY)

    @property
    def idempotency_key(self) -> str:
        return f"install:{self.team_id}:channel-kinds:{self.since}"

    @property
    def ordering_key(self) -> str:
        return ordering.channel_kinds(self.team_id)
