"""The response timeline as a picture: status over time, priority changes and updates.

Drawn with matplotlib's object API (a Figure of its own, no pyplot state) under one lock, so the
worker threads that draw reports and metrics never share a figure or matplotlib's caches.
"""

from __future__ import annotations

import io
import threading
from datetime import datetime

import matplotlib

matplotlib.use("Agg")  # no display needed, also in containers and CI

import matplotlib.dates as mdates  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from services.incidents import Status  # noqa: E402
from services.review.report import Report, status_periods  # noqa: E402

_LEVELS = [s.value for s in Status if s is not Status.CLOSED]
_LOCK = threading.Lock()
_LABEL_SIZE = 10  # readable at the page's width, on paper and on a phone
_BLUE, _GREEN, _RED, _GREY = "#2f6fb0", "#1a7f37", "#c0392b", "#6b6b6b"


def _x(moment: datetime) -> float:
    return float(mdates.date2num(moment))


def _time_axis(axes: Axes) -> None:
    """A handful of ticks, each labelled once: hours and minutes, with the date only where it
    changes (ConciseDateFormatter), so a short incident never shows "09:00" three times."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=True))


def _figure(report: Report) -> Figure:
    incident = report.incident
    end = incident.resolved_at or report.generated_at
    periods = status_periods(incident, report.timeline, end)
    figure = Figure(figsize=(9, 3.4), dpi=110)
    axes = figure.subplots()
    for status, start, stop in periods:
        level = _LEVELS.index(status) if status in _LEVELS else 0
        axes.plot([_x(start), _x(stop)], [level, level], linewidth=7, solid_capstyle="butt", color=_BLUE)
    if incident.impact_started_at and incident.impact_started_at < incident.declared_at:
        axes.axvspan(_x(incident.impact_started_at), _x(incident.declared_at), color=_RED, alpha=0.12,
                     label="impact before declaration")
    if incident.resolved_at:
        axes.scatter([_x(incident.resolved_at)], [_LEVELS.index("resolved")], marker="D", color=_GREEN,
                     zorder=3, label="resolved")
    for event in report.priority_changes:
        axes.axvline(_x(event.at), color=_RED, linestyle="--", linewidth=1)
        axes.annotate(str((event.after or {}).get("priority", "")), (_x(event.at), len(_LEVELS) - 0.6),
                      xytext=(3, 0), textcoords="offset points", color=_RED, fontsize=_LABEL_SIZE)
    updates = [_x(e.at) for e in report.timeline if e.kind == "status_update"]
    if updates:
        axes.scatter(updates, [-0.7] * len(updates), marker="|", s=160, color=_GREY, label="status updates")
    axes.set_yticks(range(len(_LEVELS)), _LEVELS, fontsize=_LABEL_SIZE)
    axes.set_ylim(-1.2, len(_LEVELS) - 0.3)
    _time_axis(axes)
    axes.tick_params(axis="x", labelsize=_LABEL_SIZE)
    axes.set_title(f"{incident.label}: status over time (UTC)", fontsize=12)
    axes.grid(axis="x", alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=_LABEL_SIZE - 1, loc="lower right", framealpha=0.9)
    figure.tight_layout()
    return figure


def _png(figure: Figure, fmt: str = "png") -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt)
    return buffer.getvalue()


def timeline_chart(report: Report, fmt: str = "png") -> bytes:
    with _LOCK:
        return _png(_figure(report), fmt)


def bar_chart(title: str, labels: list[str], series: dict[str, list[float]], unit: str) -> bytes:
    """A small grouped bar chart (the metrics card): kept small so it fits in a Teams card."""
    with _LOCK:
        figure = Figure(figsize=(4.8, 2.6), dpi=80)
        axes = figure.subplots()
        width = 0.8 / max(1, len(series))
        for index, (name, values) in enumerate(series.items()):
            axes.bar([x + index * width for x in range(len(labels))], values, width, label=name)
        axes.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(labels))], labels, fontsize=9)
        axes.tick_params(axis="y", labelsize=9)
        axes.set_ylabel(unit, fontsize=9)
        axes.set_title(title, fontsize=10)
        axes.legend(fontsize=8)
        figure.tight_layout()
        return _png(figure)
