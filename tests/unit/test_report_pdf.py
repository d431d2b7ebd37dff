"""The PDF report keeps every script people write: names, titles and notes in Greek, Cyrillic,
CJK and symbols such as "≥" come back out of the PDF as they went in (read with poppler's
pdftotext, as a reader's PDF viewer would), pages are numbered, and a script no font covers is
named instead of printed as "?"."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from services.incidents import Incident, Level, Person, Status, TimelineEvent
from services.review.document import Table
from services.review.fonts import PdfFonts, fontconfig_cjk
from services.review.pdf import col_widths, pdf_document
from services.review.report import ActionLine, Answers, Communication, build_report

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
GREEK = "Γιώργος Παπαδόπουλος"
CYRILLIC = "Ольга Смирнова"
CHINESE = "支付服务中断"
JAPANESE = "決済が失敗しました"
KOREAN = "결제 실패"
SYMBOLS = "latency ≥ 2 s → p99 × 3"

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils' pdftotext is not installed")


def _report(title: str, root_cause: str, commander: str = GREEK) -> object:
    incident = Incident(
        id=7, title=title, description=f"{SYMBOLS}; {CYRILLIC} on call", impact=Level.HIGH, urgency=Level.HIGH,
        priority="P1", status=Status.RESOLVED, service="платежи-api", client="Ελληνική Τράπεζα",
        declared_by=Person("aad-1", CYRILLIC), declared_at=START, commander=Person("aad-2", commander),
        acknowledged_at=START + timedelta(minutes=4), resolved_at=START + timedelta(hours=2, minutes=5),
        resolution_summary=f"{KOREAN}: rolled back", impact_started_at=START - timedelta(minutes=10))
    timeline = [
        TimelineEvent("declared", START, Person("aad-1", CYRILLIC), f"declared P1: {title}", after={"priority": "P1"}),
        TimelineEvent("status_changed", START + timedelta(minutes=30), Person("aad-2", commander),
                      f"{commander} moved it from triage to monitoring", after={"status": "monitoring"}),
        TimelineEvent("note", START + timedelta(minutes=40), Person("aad-2", commander), f"note: {JAPANESE}"),
        TimelineEvent("resolved", START + timedelta(hours=2, minutes=5), Person("aad-2", commander),
                      "resolved", after={"status": "resolved"})]
    actions = [ActionLine(f"Canary for {CHINESE}", CYRILLIC, START + timedelta(days=3), "open")]
    comms = [Communication("email.send", "ольга@example.com", START, START, "sent", "")]
    return build_report(incident, timeline, Answers(root_cause, f"Lessons: {GREEK}", "", CYRILLIC, START),
                        actions, comms, now=START + timedelta(hours=3))


def _text(pdf: bytes) -> str:
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True)
    return done.stdout.decode()


def _squeezed(text: str) -> str:
    return "".join(text.split())  # a table cell may wrap a phrase over lines


@pytest.mark.slow  # embeds a CJK font subset: a few seconds
def test_greek_cyrillic_cjk_and_symbols_survive_the_pdf():
    if fontconfig_cjk() is None:
        pytest.skip("no CJK font found through fontconfig (Debian: apt-get install fonts-noto-cjk)")
    report = _report(f"{CHINESE} / {JAPANESE}", f"Config ≥ limit in {KOREAN} region")
    text = _text(pdf_document(report))  # type: ignore[arg-type]
    flat = _squeezed(text)
    for expected in (GREEK, CYRILLIC, CHINESE, JAPANESE, KOREAN, "≥", "→", "платежи-api", "Ελληνική Τράπεζα",
                     f"Config ≥ limit in {KOREAN} region", "ольга@example.com"):
        assert _squeezed(expected) in flat, expected
    assert "?" not in text.replace("?expires", "")  # nothing turned into "?"
    assert "page 1 of " in text and "no font for" not in text


def test_a_script_no_font_covers_is_named_not_printed_as_question_marks():
    thai = "ระบบชำระเงินล่ม"
    report = _report(f"Checkout {thai}", "Cause ≥ 1", commander=CYRILLIC)
    text = _text(pdf_document(report, PdfFonts()))  # type: ignore[arg-type]
    assert "This PDF has no font for some text (Thai)" in text
    assert "Checkout □□" in text and "?" not in text and CYRILLIC in text and "≥" in text


def test_columns_are_as_wide_as_what_they_hold():
    table = Table(("Time", "Actor", "Event"), [("2026-01-05 09:00 UTC", "Beacon", "x" * 200)])
    time, actor, event = col_widths(table)
    assert actor < time < event and event == 60
