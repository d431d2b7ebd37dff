"""The report as PDF (fpdf2: pure Python, draws text, tables and images without a browser).

Unicode fonts with fallbacks (services/review/fonts.py), tables whose columns are as wide as
what they hold, page numbers, and the timeline chart. Runs in a worker thread (bot/review.py):
drawing a chart and a PDF takes long enough to stall the event loop.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from services.review.chart import timeline_chart
from services.review.document import Block, Chart, Heading, Paragraph, Table, blocks, other_forms
from services.review.fonts import FontFile, FontPlan, PdfFonts
from services.review.report import Report, stamp

_LINK = (47, 111, 176)
_HEADER_FILL = (236, 240, 246)
_WIDEST = 60  # characters: a longer cell wraps rather than squeezing its neighbours
_KEEP_WITH_NEXT = 30  # mm below a heading for the start of its content


class _Document(FPDF):
    footer_text = ""
    font_family_name = "DejaVu"

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.font_family_name, "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 6, f"{self.footer_text} · page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _texts(report: Report, content: list[Block]) -> Iterator[str]:
    yield report.title
    for block in content:
        if isinstance(block, Heading | Paragraph):
            yield block.text
        elif isinstance(block, Table):
            yield from block.header
            for row in block.rows:
                yield from row


def _add(pdf: FPDF, font: FontFile) -> None:
    pdf.add_font(font.family, "", font.path, collection_font_number=font.index)
    if font.bold_path:
        pdf.add_font(font.family, "B", font.bold_path, collection_font_number=font.index)


def _width(text: str) -> int:
    """How wide text reads, in Latin characters (a CJK character takes about two)."""
    longest = max((line for line in text.split("\n")), key=len, default="")
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in longest)


def col_widths(table: Table) -> tuple[int, ...]:
    """Each column as wide as its widest cell, within bounds, as relative weights; a table of
    names and values gives the values the room."""
    columns = range(len(table.header))
    if len(columns) == 2 and not any(table.header):
        return min(28, max([8, *(_width(row[0]) for row in table.rows)])), _WIDEST
    return tuple(min(_WIDEST, max(6, _width(table.header[c]), *(_width(row[c]) for row in table.rows)))
                 for c in columns)


class _Writer:
    def __init__(self, pdf: _Document, plan: FontPlan, chart: bytes):
        self.pdf, self.plan, self.chart = pdf, plan, chart

    def line(self, text: str, height: float = 5.5, **style: Any) -> None:
        self.pdf.multi_cell(self.pdf.epw, height, self.plan.clean(text), new_x="LMARGIN", new_y="NEXT", align="L",
                            **style)

    def block(self, block: Block) -> None:
        pdf, family = self.pdf, self.pdf.font_family_name
        if isinstance(block, Heading):
            if pdf.will_page_break(_KEEP_WITH_NEXT):  # a heading stays with what it introduces
                pdf.add_page()
            pdf.ln(3 if block.level == 2 else 1.5)
            pdf.set_font(family, "B", 14 if block.level == 2 else 11.5)
            self.line(block.text, 7)
            pdf.set_font(family, "", 10)
        elif isinstance(block, Paragraph):
            self.line(block.text)
            pdf.ln(1.5)
        elif isinstance(block, Table):
            self.table(block)
        elif isinstance(block, Chart):
            pdf.image(io.BytesIO(self.chart), w=pdf.epw)

    def table(self, block: Table) -> None:
        pdf = self.pdf
        headed = any(block.header)
        pdf.set_font(pdf.font_family_name, "", 9)
        with pdf.table(first_row_as_headings=headed, text_align="LEFT", col_widths=col_widths(block),
                       headings_style=FontFace(emphasis="BOLD", fill_color=_HEADER_FILL), line_height=4.8,
                       padding=1.2, v_align="TOP") as table:
            if headed:
                table.row([self.plan.clean(h) for h in block.header])
            for row in block.rows:
                table.row([self.plan.clean(c) for c in row])
        pdf.set_font(pdf.font_family_name, "", 10)
        pdf.ln(2)


def _front(writer: _Writer, report: Report) -> None:
    pdf, family = writer.pdf, writer.pdf.font_family_name
    pdf.set_font(family, "B", 17)
    writer.line(report.title, 8.5)
    pdf.set_font(family, "", 9)
    pdf.set_text_color(90, 90, 90)
    writer.line(f"Generated {stamp(report.generated_at)}")
    for name, url in other_forms(report, "pdf"):
        pdf.set_text_color(*_LINK)
        pdf.cell(0, 5, f"Open as {name}", link=url, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    if writer.plan.unshown_scripts:
        pdf.set_text_color(160, 60, 0)
        writer.line(f"This PDF has no font for some text ({', '.join(writer.plan.unshown_scripts)}): "
                    "it is shown as □. The web page version of the report shows it in full.")
        pdf.set_text_color(0, 0, 0)
    pdf.set_font(family, "", 10)


def pdf_document(report: Report, fonts: PdfFonts | None = None) -> bytes:
    fonts = fonts or PdfFonts()
    content = blocks(report)
    plan = fonts.plan(_texts(report, content))
    pdf = _Document(format="A4")
    pdf.footer_text = f"{report.incident.label} post-incident report"
    for font in (fonts.main, *plan.fallbacks):
        _add(pdf, font)
    pdf.set_fallback_fonts([f.family for f in plan.fallbacks], exact_match=False)
    pdf.set_title(plan.clean(report.title))
    pdf.set_lang("en")
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    writer = _Writer(pdf, plan, timeline_chart(report, "png"))
    _front(writer, report)
    for block in content:
        writer.block(block)
    return bytes(pdf.output())
