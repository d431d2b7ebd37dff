"""Links handed out before a change of the code that signs them keep working: each kind of signed
link, made by an earlier Beacon from a fixed secret, still verifies, and Beacon still writes the
same link from the same secret and time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from services.paging.links import AckLinks, LinkRefused
from services.review.links import ReportLinks
from services.status_page.links import StatusLinks

MADE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BASE = "https://beacon.example.com"
CLIENT = "Contoso & Co/EU"  # quoted as one path segment
READER = "erin@contoso-client.example"
PAGE = ("https://beacon.example.com/status/Contoso%20%26%20Co%2FEU?g=3&expires=1798707600"
        "&sig=da5e8cc0688de1f6f035cfe0e7d552e2488227e21bcdbe2323243cfac42b4f59")
CONFIRM = ("https://beacon.example.com/status/Contoso%20%26%20Co%2FEU/confirm?s=41&expires=1796288400"
           "&sig=a6eaf08d1aef8b27953a90301f14801fc3f42604794bf41fd748ccedc371dfa5")
UNSUBSCRIBE = ("https://beacon.example.com/status/Contoso%20%26%20Co%2FEU/unsubscribe?s=41"
               "&sig=959e1c2eb8f82107dcdaa9b4e8eaa6b7c5874e94ab26397a23e717f8c58980de")
REPORT = ("https://beacon.example.com/reports/INC-7?expires=1796720400"
          "&sig=cd5ecc82fd09a44ba67faed976c3cfbcf3cd990eafa1ba7983ee991c9d69afed&format=pdf")
ACK = "AAAADGsOmqABAgC3bAJ2r_bKlRys7VOF87CgH5TdK80uSQ"  # its nonce was random: only checked, never rewritten


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_status_page_and_subscription_links_made_before_still_work() -> None:
    links = StatusLinks("status-secret-before", BASE, timedelta(days=30))
    later = MADE + timedelta(hours=1)
    assert links.signed_generation(CLIENT, query(PAGE), later) == 3
    assert links.confirms(CLIENT, READER, 3, query(CONFIRM), later)
    assert links.unsubscribes(CLIENT, READER, query(UNSUBSCRIBE))
    assert (links.url(CLIENT, 3, MADE), links.confirm_url(CLIENT, 41, READER, 3, MADE),
            links.unsubscribe_url(CLIENT, 41, READER)) == (PAGE, CONFIRM, UNSUBSCRIBE)
    # and each is still only what it was signed for
    other = StatusLinks("another-secret", BASE, timedelta(days=30))
    assert other.signed_generation(CLIENT, query(PAGE), later) is None
    assert not links.confirms(CLIENT, "someone@else.example", 3, query(CONFIRM), later)
    assert not links.confirms(CLIENT, READER, 4, query(CONFIRM), later)
    assert not links.unsubscribes("Contoso", READER, query(UNSUBSCRIBE))
    assert not links.confirms(CLIENT, READER, 3, query(UNSUBSCRIBE) | {"expires": "1796288400"}, later)
    assert not links.confirms(CLIENT, READER, 3, query(CONFIRM), MADE + timedelta(hours=49))
    assert not links.unsubscribes(CLIENT, READER, query(UNSUBSCRIBE) | {"sig": "é" * 64})  # not ASCII: refused


def test_report_links_made_before_still_work() -> None:
    links = ReportLinks("report-secret-before", BASE, timedelta(days=7))
    signed = query(REPORT)
    assert links.valid(7, signed["expires"], signed["sig"], MADE + timedelta(days=1))
    assert links.url(7, MADE, fmt="pdf") == REPORT
    assert not links.valid(8, signed["expires"], signed["sig"], MADE)
    assert not links.valid(7, signed["expires"], "é" + signed["sig"][1:], MADE)


def test_acknowledge_links_made_before_still_work() -> None:
    links = AckLinks("ack-secret-before", BASE, timedelta(hours=1))
    claim = links.verify(ACK, MADE + timedelta(minutes=5), ["ada@contoso.com"])
    assert (claim.incident_id, claim.person, claim.via, claim.level, claim.round) == (
        12, "ada@contoso.com", "sms_link", 1, 2)
    with pytest.raises(LinkRefused):
        AckLinks("another-secret", BASE, timedelta(hours=1)).verify(ACK, MADE, ["ada@contoso.com"])
