"""The response timeline as a picture: status over time, priority changes and updates."""

from __future__ import annotations

import io
from datetime import datetime

import matplotlib

matplotlib.use("Agg")  # no display needed, also in containers and CI

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from services.incidents import Status  # noqa: E402
from services.review.report import Report, status_periods  # noqa: E402

_LEVELS = [s.value for s in Status if s is not Status.CLOSED]


def _x(moment: datetime) -> float:
    return float(mdates.date2num(moment))


def _figure(report: Report) -> Figure:
    incident = report.incident
    end = incident.resolved_at or report.generated_at
    periods = status_periods(incident, report.timeline, end)
    figure, axes = plt.subplots(figsize=(8, 3), dpi=90)
    for status, start, stop in periods:
        level = _LEVELS.index(status) if status in _LEVELS else 0
        axes.plot([_x(start), _x(stop)], [level, level], linewidth=6, solid_capstyle="butt", color="#2f6fb0")
    if incident.resolved_at:
        axes.scatter([_x(incident.resolved_at)], [_LEVELS.index("resolved")], marker="D", color="#1a7f37",
                     zorder=3, label="resolved")
    for event in report.priority_changes:
        axes.axvline(_x(event.at), color="#c0392b", linestyle="--", linewidth=1)
        axes.annotate(str((event.after or {}).get("priority", "")), (_x(event.at), len(_LEVELS) - 0.6),
                      color="#c0392b", fontsize=8)
    updates = [_x(e.at) for e in report.timeline if e.kind == "status_update"]
    if updates:
        axes.scatter(updates, [-0.7] * len(updates), marker="|", s=120, color="#6b6b6b", label="updates")
    axes.set_yticks(range(len(_LEVELS)), _LEVELS, fontsize=8)
    axes.set_ylim(-1.2, len(_LEVELS) - 0.3)
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    axes.tick_params(axis="x", labelsize=7)
    axes.set_title(f"{incident.label}: status over time (UTC)", fontsize=10)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure


def timeline_chart(report: Report, fmt: str = "png") -> bytes:
    figure = _figure(report)
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format=fmt)
    finally:
        plt.close(figure)
    return buffer.getvalue()


def bar_chart(title: str, labels: list[str], series: dict[str, list[float]], unit: str) -> bytes:
    """A small grouped bar chart (the metrics card): kept tiny so it fits in a Teams card."""
    figure, axes = plt.subplots(figsize=(4.5, 2.2), dpi=60)
    width = 0.8 / max(1, len(series))
    for index, (name, values) in enumerate(series.items()):
        axes.bar([x + index * width for x in range(len(labels))], values, width, label=name)
    axes.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(labels))], labels, fontsize=8)
    axes.set_ylabel(unit, fontsize=8)
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    return buffer.getvalue()
