"""An acknowledge link has one spelling: base64's last character carries spare bits, and a link that
differs there was changed, so it is refused like any other tampering."""
from datetime import datetime, timedelta, timezone

import pytest

from services.paging.links import AckLinks, LinkRefused

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_every_other_spelling_of_the_last_character_is_refused():
    links = AckLinks("s" * 32, "https://beacon.example", timedelta(hours=1))
    now = datetime(2026, 12, 3, 3, 0, tzinfo=timezone.utc)
    token = links.token(7, "ada@contoso.com", "sms_link", now)
    assert links.verify(token, now, ["ada@contoso.com"]).incident_id == 7
    for other in ALPHABET.replace(token[-1], ""):
        with pytest.raises(LinkRefused):
            links.verify(token[:-1] + other, now, ["ada@contoso.com"])
