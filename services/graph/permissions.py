"""Which Graph application permissions Beacon's settings need, and which its own token carries.

An app-only token lists the application permissions an administrator consented to in its `roles`
claim, and the app it was issued to in `appid` (v1 tokens; `azp` in v2). Reading Beacon's own
token proves every permission without sending a request that could fail halfway, mail someone or
ring a phone. The token is only read here, never verified: it came from Entra ID to Beacon.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from services.graph.settings import GraphSettings

LOGIN_HOST = "https://login.microsoftonline.com"


@dataclass(frozen=True)
class Needed:
    role: str
    why: str


def needed_roles(settings: GraphSettings, ringing: bool, channels: bool = False) -> list[Needed]:
    """The application permissions the configured features use (infra/graph-permissions.md)."""
    needs = [Needed("User.Read.All", "people look-ups and the organizer and sender checks")]
    if settings.organizer_user_id:
        needs.append(Needed("Calendars.ReadWrite", "bridge and review meetings as calendar events"
                            if settings.meeting_mode == "events" else "review meetings as calendar events"))
        if settings.meeting_mode == "onlineMeetings":
            needs.append(Needed("OnlineMeetings.ReadWrite.All", "bridge meetings (GRAPH_MEETING_MODE=onlineMeetings)"))
    if settings.mail_sender or (settings.organizer_user_id and settings.meeting_mode == "onlineMeetings"):
        needs.append(Needed("Mail.Send", "email sent as MAIL_SENDER" if settings.mail_sender
                            else "bridge invitations sent as the organizer"))
    if ringing:
        needs.append(Needed("Calls.Initiate.All", "ringing one responder"))
        needs.append(Needed("Calls.InitiateGroupCall.All", "ringing several responders in one call"))
    if channels:  # making them needs Channel.Create.Group, consented at install (not in the token's roles)
        needs.append(Needed("ChannelSettings.ReadWrite.All", "listing and archiving incident channels "
                            "(channels.dedicated_for)"))
    return needs


def token_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT, unverified; None when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def token_app_id(claims: dict[str, Any]) -> str:
    return str(claims.get("appid") or claims.get("azp") or "")


def missing_roles(claims: dict[str, Any], needs: list[Needed]) -> list[Needed]:
    roles = claims.get("roles")
    granted = {str(role).lower() for role in roles} if isinstance(roles, list) else set()
    return [need for need in needs if need.role.lower() not in granted]


def admin_consent_url(settings: GraphSettings, claims: dict[str, Any]) -> str:
    """Where an administrator grants the app's configured permissions for the whole tenant."""
    tenant = settings.tenant_id or str(claims.get("tid") or "organizations")
    client = settings.client_id or token_app_id(claims)
    return f"{LOGIN_HOST}/{tenant}/adminconsent?client_id={client}"
