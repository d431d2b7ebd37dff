"""What the person who posts a stakeholder update is told, and only they: every route the update
went to, and every route it skipped with the reason, so nobody wonders whether the client heard.

Pure: the caller says how many customer tickets follow the incident, how many phone numbers its
first notice went to by SMS (its resolution goes to the same), how many of its client's status-page
subscribers are emailed the update (None without status pages), and which outside systems are not
set up (Deps.unavailable, filled in at start-up by each integration)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.comms import plan
from services.config import BeaconConfig
from services.incidents import Incident, Level

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
                              sms_numbers: int, subscribers: int | None,
                              unavailable: Mapping[str, str]) -> list[Route]:
    drill = "this is a drill: nothing leaves the incident thread"
    channel = config.channels.stakeholder_channel
    found = [Route("Stakeholder channel", False, drill) if incident.drill else
             Route("Stakeholder channel", True, "posted in the incident's thread there") if channel else
             Route("Stakeholder channel", False, "none is set (channels.stakeholder_channel in BEACON_CONFIG)")]
    routes = plan.routes_for(incident, config)
    emails = len(routes.stakeholder_emails)
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
    sms = drill if incident.drill else _sms(incident, sms_numbers, bool(routes.sms_numbers), unavailable)
    found.append(Route("SMS", False, sms))
    if subscribers is not None and incident.client:
        found.append(_subscribers(incident, subscribers, unavailable, drill))
    if FRESHDESK in unavailable:
        found.append(Route("Freshdesk", False, unavailable[FRESHDESK]))
    elif not customer_tickets:
        found.append(Route("Freshdesk", False, "no customer ticket follows this incident"))
    else:
        found.append(Route("Freshdesk", True, f"a public reply on {_plural(customer_tickets, 'customer ticket')}"))
    return found


def _sms(incident: Incident, numbers: int, phones_now: bool, unavailable: Mapping[str, str]) -> str:
    """Why the update went by no SMS, and what SMS this incident does get: its first notice went to
    `numbers` phones, and its resolution goes to the same; `phones_now`: whether the first notice
    would go to any, were it declared now."""
    if SMS in unavailable:
        return unavailable[SMS]
    if numbers:
        return (f"updates go by email; this incident's first notice went by SMS to "
                f"{_plural(numbers, 'phone number')}, and its resolution will too")
    whose = f"{incident.client}'s contacts" if incident.client else "the directory's stakeholders"
    if incident.impact is Level.HIGH and not phones_now:
        return f"nobody among {whose} and the service's team has a phone number"
    return ("updates go by email; SMS carries the first notice and the resolution of incidents of high impact "
            "when declared, and this one was not")


def _subscribers(incident: Incident, subscribers: int, unavailable: Mapping[str, str], drill: str) -> Route:
    name = "Status page subscribers"
    if incident.drill:
        return Route(name, False, drill)
    if not subscribers:
        return Route(name, False, f"nobody besides the contacts above subscribed to {incident.client}'s status page")
    if EMAIL in unavailable:
        return Route(name, False, f"{unavailable[EMAIL]} ({_plural(subscribers, 'subscriber')} waiting)")
    return Route(name, True, f"emailed to {_plural(subscribers, 'subscriber')} of {incident.client}'s status page")
