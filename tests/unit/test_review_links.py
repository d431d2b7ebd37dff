from datetime import UTC, datetime, timedelta

from services.review.links import ReportLinks
from services.review.meeting import review_slot

NOW = datetime(2026, 1, 9, 15, 0, tzinfo=UTC)  # a Friday


def test_signed_links_expire_and_refuse_tampering():
    links = ReportLinks("k", "https://b.example", timedelta(days=1))
    url = links.url(7, NOW)
    query = dict(p.split("=") for p in url.split("?")[1].split("&"))
    assert links.valid(7, query["expires"], query["sig"], NOW)
    assert not links.valid(8, query["expires"], query["sig"], NOW)
    assert not links.valid(7, query["expires"], query["sig"], NOW + timedelta(days=2))


def test_review_slot_is_the_next_business_day_inside_the_window():
    assert review_slot(NOW, 5) == datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
