"""Generated sample documents, for tests and benchmarks."""

from __future__ import annotations

from pathlib import Path


def make_text_pdf(path: Path, lines: list[str], pages: int = 1) -> Path:
    """A small born-digital PDF with real text."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for page in range(pages):
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 8, f"{line}", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 8, f"Page {page + 1}", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def make_scan(path: Path, lines: list[str], dpi: int = 300) -> Path:
    """An image-only 'scan' (A4 at dpi) of the given lines; .png/.jpg/.tiff/.pdf by suffix."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = int(8.27 * dpi), int(11.69 * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", dpi // 6)
    y = dpi
    for line in lines:
        draw.text((dpi, y), line, font=font, fill=0)
        y += dpi // 3
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        image.save(path, "PDF", resolution=dpi)
    else:
        image.save(path, dpi=(dpi, dpi))
    return path
