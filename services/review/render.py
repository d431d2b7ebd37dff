"""The report as Markdown and as one self-contained HTML page (chart embedded as PNG); the PDF is
services/review/pdf.py."""

from __future__ import annotations

import base64
import html

from services.review.chart import timeline_chart
from services.review.document import Chart, Heading, Paragraph, Table, blocks, other_forms
from services.review.report import Report, stamp


def _md_cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def markdown(report: Report) -> str:
    lines = [f"# {report.title}", "", f"_Generated {stamp(report.generated_at)}_", ""]
    if report.forms:
        lines += ["Also as: " + " · ".join(f"[{name}]({url})" for name, url in other_forms(report, "md")), ""]
    for block in blocks(report):
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            lines += [block.text, ""]
        elif isinstance(block, Table):
            header = block.header if any(block.header) else ("Field", "Value")
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            lines.append("")
        elif isinstance(block, Chart):
            lines += ["_The timeline chart is in the HTML and PDF versions._", ""]
    return "\n".join(lines)


_STYLE = ("body{font-family:Segoe UI,Arial,sans-serif;max-width:960px;margin:2em auto;padding:0 16px;"
          "color:#222;line-height:1.4}"
          "table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:4px 8px;"
          "text-align:left;vertical-align:top}th{background:#f3f3f3}h2{border-bottom:2px solid #2f6fb0}"
          "img{max-width:100%}")


def _html_forms(report: Report) -> str:
    links = [f"<a href='{html.escape(url)}'>{html.escape(name)}</a>" for name, url in other_forms(report, "html")]
    return f" · Also as {' or '.join(links)}" if links else ""


def html_page(report: Report) -> str:
    chart = base64.b64encode(timeline_chart(report, "png")).decode()
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
           f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(report.title)}"
           f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(report.title)}</h1>",
           f"<p><em>Generated {stamp(report.generated_at)}</em>"
           + _html_forms(report) + "</p>"]
    for block in blocks(report):
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Table):
            head = ("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in block.header) + "</tr>"
                    if any(block.header) else "")
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                           for row in block.rows)
            out.append(f"<table>{head}{rows}</table>")
        elif isinstance(block, Chart):
            out.append(f"<img alt='Timeline chart: status over time, priority changes and updates' "
                       f"src='data:image/png;base64,{chart}'>")
    out.append("</body></html>")
    return "".join(out)
