"""What the person who posts a stakeholder update is told, and only they: every route the update
went to, and every route it skipped with the reason, so nobody wonders whether the client heard.

Pure: the caller says how many customer tickets follow the incident and which outside systems are
not set up (Deps.unavailable, filled in at start-up by each integration)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.comms import plan
from services.config import BeaconConfig
from services.incidents import Incident

EMAIL, SMS, FRESHDESK = "email", "sms", "freshdesk"  # the keys of Deps.unavailable


@dataclass(frozen=True)
class Route:
    name: str
    sent: bool
    detail: str

    def line(self) -> str:
        return f"{self.name}: {self.detail}" if self.sent else f"{self.name}: not sent: {self.detail}"


def _plural(count: int, one: str) -> str:
    return f"{count} {one}" if count == 1 else f"{count} {one}s"


def stakeholder_update_routes(incident: Incident, config: BeaconConfig, *, customer_tickets: int,
                              unavailable: Mapping[str, str]) -> list[Route]:
    drill = "this is a drill: nothing leaves the incident thread"
    channel = config.channels.stakeholder_channel
    found = [Route("Stakeholder channel", False, drill) if incident.drill else
             Route("Stakeholder channel", True, "posted in the incident's thread there") if channel else
             Route("Stakeholder channel", False, "none is set (channels.stakeholder_channel in BEACON_CONFIG)")]
    emails = len(plan.routes_for(incident, config).stakeholder_emails)
    who = (f"{incident.client}'s contacts and Account Owner" if incident.client
           else "the directory's stakeholders and the Product Head")
    if incident.drill:
        found.append(Route("Email", False, drill))
    elif not emails:
        found.append(Route("Email", False, f"none of {who} has an email address"))
    elif EMAIL in unavailable:
        found.append(Route("Email", False, f"{unavailable[EMAIL]} ({_plural(emails, 'recipient')} waiting)"))
    else:
        found.append(Route("Email", True, f"to {_plural(emails, 'recipient')} ({who})"))
    found.append(Route("SMS", False, "updates go by email; SMS carries the first notice and the resolution of "
                                     "high-impact incidents"))
    if FRESHDESK in unavailable:
        found.append(Route("Freshdesk", False, unavailable[FRESHDESK]))
    elif not customer_tickets:
        found.append(Route("Freshdesk", False, "no customer ticket follows this incident"))
    else:
        found.append(Route("Freshdesk", True, f"a public reply on {_plural(customer_tickets, 'customer ticket')}"))
    return found
