"""Who a ticket Beacon creates is filed as. Freshdesk refuses a ticket without a requester (an
email, requester_id or phone), so every incident needs one, internal ones included:

1. FRESHDESK_REQUESTER_EMAIL, when set;
2. for a client's incident, the client's first contact with an email;
3. the person who declared it: their email in the directory (BEACON_CONFIG), else in Microsoft
   Graph (GET /users/{id}, User.Read.All) when Graph is configured;
4. MAIL_SENDER, the mailbox Beacon sends email from (alerts, and people with no known email).
"""

from __future__ import annotations

from typing import Protocol

from services.config import BeaconConfig
from services.incidents import Incident
from services.intake.settings import IntakeSettings
from services.intake.tickets import configured_requester
from services.policy import SYSTEM_ACTOR


class EmailDirectory(Protocol):
    async def email_of(self, aad_object_id: str) -> str | None:
        """The person's mail address; None when they have none or cannot be looked up."""
        ...


NOBODY = ("nobody to file the Freshdesk ticket as: set FRESHDESK_REQUESTER_EMAIL (or MAIL_SENDER), "
          "or give the declaring person an email in the directory")


class Requesters:
    def __init__(self, config: BeaconConfig, settings: IntakeSettings, *, mail_sender: str = "",
                 people: EmailDirectory | None = None) -> None:
        self._config, self._settings = config, settings
        self._mail_sender, self._people = mail_sender.strip(), people

    async def of(self, incident: Incident) -> str:
        """The requester email for this incident's ticket; ValueError when there is none."""
        found = (configured_requester(incident, self._config, self._settings)
                 or await self._declarer(incident.declared_by.aad_object_id) or self._mail_sender)
        if not found:
            raise ValueError(NOBODY)
        return found

    async def _declarer(self, aad_object_id: str) -> str:
        if not aad_object_id or aad_object_id == SYSTEM_ACTOR:  # declared by Beacon, from an alert
            return ""
        wanted = aad_object_id.lower()
        listed = next((p.email for p in self._config.directory_people()
                       if p.email and p.aad_object_id.lower() == wanted), "")
        if listed or self._people is None:
            return listed
        return await self._people.email_of(aad_object_id) or ""

    def describe(self) -> tuple[bool, str]:
        return describe(self._settings, self._mail_sender, graph_lookup=self._people is not None)


def describe(settings: IntakeSettings, mail_sender: str, *, graph_lookup: bool) -> tuple[bool, str]:
    """For the doctor: whether every incident gets a requester, and in words who it is."""
    if settings.requester_email:
        return True, f"tickets are filed as FRESHDESK_REQUESTER_EMAIL ({settings.requester_email})"
    people = "the directory or Microsoft Graph" if graph_lookup else "the directory"
    chain = f"a client's contact, else the declaring person's email from {people}"
    if mail_sender.strip():
        return True, f"tickets are filed as {chain}, else MAIL_SENDER ({mail_sender.strip()})"
    return False, (f"tickets are filed as {chain}; incidents from alerts, and people with no known email, "
                   "get no ticket (FRESHDESK_REQUESTER_EMAIL and MAIL_SENDER are empty)")
