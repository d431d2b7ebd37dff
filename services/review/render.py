"""The report as Markdown, as one self-contained HTML page (chart embedded as PNG), and as PDF
(fpdf2: pure Python, actively maintained, draws text, tables and images without a browser)."""

from __future__ import annotations

import base64
import html
import io

from fpdf import FPDF

from services.review.chart import timeline_chart
from services.review.document import Block, Chart, Heading, Paragraph, Table, blocks
from services.review.report import Report, stamp

FORM_NAMES = {"html": "web page", "md": "Markdown", "pdf": "PDF"}


def other_forms(report: Report, current: str) -> list[tuple[str, str]]:
    """(name, link) of the report's other forms, for a line under its title."""
    return [(FORM_NAMES[fmt], url) for fmt, url in report.forms.items() if fmt != current and fmt in FORM_NAMES]


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


_STYLE = ("body{font-family:Segoe UI,Arial,sans-serif;max-width:960px;margin:2em auto;color:#222}"
          "table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:4px 8px;"
          "text-align:left;vertical-align:top}th{background:#f3f3f3}h2{border-bottom:2px solid #2f6fb0}"
          "img{max-width:100%}")


def _html_forms(report: Report) -> str:
    links = [f"<a href='{html.escape(url)}'>{html.escape(name)}</a>" for name, url in other_forms(report, "html")]
    return f" · Also as {' or '.join(links)}" if links else ""


def html_page(report: Report) -> str:
    chart = base64.b64encode(timeline_chart(report, "png")).decode()
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(report.title)}"
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


def _latin1(value: str) -> str:
    """The PDF core fonts speak Latin-1; keep the meaning of common symbols."""
    for symbol, plain in (("→", "->"), ("—", "-"), ("–", "-"), ("…", "..."), ("·", "-"),
                          ("“", '"'), ("”", '"'), ("’", "'"), ("×", "x")):
        value = value.replace(symbol, plain)
    return value.encode("latin-1", "replace").decode("latin-1")


def _pdf_block(pdf: FPDF, block: Block, chart: bytes) -> None:
    width = pdf.epw
    if isinstance(block, Heading):
        pdf.set_font("Helvetica", "B", 14 if block.level == 2 else 11)
        pdf.ln(2)
        pdf.multi_cell(width, 7, _latin1(block.text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)
    elif isinstance(block, Paragraph):
        pdf.multi_cell(width, 5, _latin1(block.text), new_x="LMARGIN", new_y="NEXT")
    elif isinstance(block, Table):
        with pdf.table(first_row_as_headings=any(block.header), text_align="LEFT") as table:
            if any(block.header):
                table.row([_latin1(h) for h in block.header])
            for row in block.rows:
                table.row([_latin1(c) for c in row])
    elif isinstance(block, Chart):
        pdf.image(io.BytesIO(chart), w=width)


def pdf_document(report: Report) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(report.title))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(pdf.epw, 8, _latin1(report.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(pdf.epw, 5, f"Generated {stamp(report.generated_at)}", new_x="LMARGIN", new_y="NEXT")
    for name, url in other_forms(report, "pdf"):
        pdf.set_text_color(47, 111, 176)
        pdf.cell(0, 5, f"Open as {name}", link=url, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    chart = timeline_chart(report, "png")
    for block in blocks(report):
        _pdf_block(pdf, block, chart)
    return bytes(pdf.output())
