"""How the review runs: reminder cadences, the review window and report links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.review.links import ReportLinks


@dataclass(frozen=True)
class ReviewSettings:
    links: ReportLinks
    report_reminder_every: timedelta = timedelta(days=1)
    review_window_business_days: int = 5
    review_length: timedelta = timedelta(hours=1)
    action_overdue_after: timedelta = timedelta(days=1)
    pdf_fonts: tuple[str, ...] = ()  # REPORT_PDF_FONTS: fonts for scripts DejaVu Sans lacks
