"""The bridge of an incident as plain data: who is invited, the Teams meeting, the calls that rang
responders. No I/O; rows are mapped to these in services/bridge/store.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.incidents import Person
from services.ports import CallTarget, Meeting, Recipient


class BridgeState(StrEnum):
    REQUESTED = "requested"  # recorded, the meeting is being created by the outbox
    CREATED = "created"
    FAILED = "failed"  # Graph refused; Start bridge again after the fix
    NOT_CONFIGURED = "not_configured"  # no Graph settings; nothing was sent

    @property
    def is_live(self) -> bool:
        """A bridge in these states is the incident's one bridge: a second click shows it."""
        return self in (BridgeState.REQUESTED, BridgeState.CREATED)


class Group(StrEnum):
    """Where an invitee comes from, in the order the picker shows them."""

    CLIENT = "client"
    HOSTING = "hosting"  # Microsoft support: vendors of kind "hosting"
    VENDOR = "vendor"
    TEAM = "team"
    RESPONDERS = "responders"
    EXTRA = "extra"  # typed in


@dataclass(frozen=True)
class Invitee:
    """Someone the bridge can invite: by email, or by Entra id (email looked up when sending)."""

    key: str  # the picker's value: "mail:<address>" or "aad:<object id>"
    group: Group
    name: str
    email: str = ""
    aad_object_id: str = ""
    note: str = ""  # why they are listed: "account owner", the vendor, "team address"
    ticked: bool = True

    @property
    def label(self) -> str:
        return self.name or self.email or self.aad_object_id

    def recipient(self) -> Recipient:
        return Recipient(self.email, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "group": self.group.value, "name": self.name, "email": self.email,
                "aad_object_id": self.aad_object_id, "note": self.note}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Invitee:
        return cls(key=str(data["key"]), group=Group(data.get("group") or Group.EXTRA),
                   name=str(data.get("name") or ""), email=str(data.get("email") or ""),
                   aad_object_id=str(data.get("aad_object_id") or ""), note=str(data.get("note") or ""))


def email_key(email: str) -> str:
    return f"mail:{email.strip().lower()}"


def aad_key(aad_object_id: str) -> str:
    return f"aad:{aad_object_id.strip().lower()}"


@dataclass(frozen=True)
class Bridge:
    incident_id: int
    state: BridgeState
    attempt: int
    requested_by: Person | None
    requested_at: datetime
    invitees: tuple[Invitee, ...] = ()  # asked for (the latest request plus Invite more)
    invited: tuple[Recipient, ...] = ()  # the addresses Graph actually got
    meeting: Meeting | None = None
    created_at: datetime | None = None
    error: str = ""

    def is_invited(self, invitee: Invitee) -> bool:
        if any(i.key == invitee.key for i in self.invitees):
            return True
        address = invitee.email.lower()
        return bool(address) and any(r.email.lower() == address for r in self.invited)


class CallState(StrEnum):
    """Graph's call states (callState enum) Beacon follows; others are kept as Graph says them."""

    ESTABLISHING = "establishing"
    ESTABLISHED = "established"
    TERMINATING = "terminating"
    TERMINATED = "terminated"


ACTIVE_CALL_STATES = frozenset({"incoming", "establishing", "ringing", "established", "hold",
                                "transferring", "transferAccepted", "redirecting"})
# Notifications "may arrive out of order" (Graph docs): a state never goes back to an earlier rank.
CALL_STATE_RANK = {"incoming": 0, "establishing": 1, "ringing": 1, "established": 2, "hold": 2,
                   "transferring": 2, "transferAccepted": 2, "redirecting": 2, "terminating": 3,
                   "terminated": 4}


@dataclass(frozen=True)
class BridgeCall:
    """A Graph group call that rang responders."""

    call_id: str
    incident_id: int
    state: str
    targets: tuple[CallTarget, ...]
    participants: tuple[tuple[str, str], ...]  # (id, display name) currently in the call
    started_at: datetime
    updated_at: datetime

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_CALL_STATES


def call_key(call_id: str) -> str:
    """Graph writes one call id as "57dab8b1-894c-…" or "57DAB8B1894C…" in resource URLs."""
    return call_id.strip().lower().replace("-", "")
