"""A certificate as a one-page PDF in Khmer and English, made on the Pi (issue 16, item 7).

fpdf2 lays the page out and shapes Khmer with HarfBuzz (uharfbuzz): the coeng subscripts
and vowel signs of a Khmer name only come out right through a shaping engine. The fonts are
static instances of Noto Sans Khmer (OFL, ``fonts/OFL.txt``), which also hold Latin letters.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import segno
from fpdf import FPDF

FONTS = Path(__file__).with_name("fonts")
FAMILY = "NotoSansKhmer"
KHMER_DIGITS = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")


def _hours(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def render(record: dict[str, Any], *, revoked: bool = False, verify_url: str = "") -> bytes:
    """Return the PDF of certificate ``record`` (``verify_url``: where to check its code)."""
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(f"{record['course']['en']} - {record['learner']['name']}")
    pdf.set_creator("Kru")
    pdf.add_font(FAMILY, "", str(FONTS / "NotoSansKhmer-Regular.ttf"))
    pdf.add_font(FAMILY, "B", str(FONTS / "NotoSansKhmer-Bold.ttf"))
    pdf.set_text_shaping(True)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_draw_color(30, 80, 120)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    hours = _hours(record["hours"])

    def line(text: str, size: float, style: str = "", gap: float = 2) -> None:
        pdf.set_font(FAMILY, style, size)
        pdf.multi_cell(0, size * 0.55, text, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    pdf.set_y(22)
    line(record["site"]["name"], 12)
    line("វិញ្ញាបនបត្រ", 30, "B", 0)
    line("Certificate of continuous professional development", 14, "", 6)
    line("សូមបញ្ជាក់ថា / This certifies that", 12)
    line(record["learner"]["name"], 26, "B", 4)
    line("បានបញ្ចប់ដោយជោគជ័យ / has completed", 12)
    line(record["course"]["km"], 17, "B", 0)
    line(record["course"]["en"], 15, "", 4)
    line(f"ការអភិវឌ្ឍវិជ្ជាជីវៈបន្ត {hours.translate(KHMER_DIGITS)} ម៉ោង / {hours} CPD hours", 14)
    line(f"ចុះថ្ងៃទី / Issued {record['issued']}", 12, "", 6)
    if revoked:
        pdf.set_text_color(180, 0, 0)
        line("បានដកហូត / REVOKED", 20, "B")
        pdf.set_text_color(0, 0, 0)
    pdf.set_y(170)
    pdf.set_font(FAMILY, "B", 16)
    pdf.cell(0, 9, f"{record['code']}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 10)
    check = verify_url or f"/verify/{record['code']}"
    pdf.cell(
        0, 6, f"ពិនិត្យលេខកូដនេះ / Check this code: {check}", align="C", new_x="LMARGIN", new_y="NEXT"
    )
    if verify_url:
        png = io.BytesIO()
        segno.make(verify_url, error="m").save(png, kind="png", scale=4, border=1)
        png.seek(0)
        pdf.image(png, x=250, y=160, w=30)
    return bytes(pdf.output())
