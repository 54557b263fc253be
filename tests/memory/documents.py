"""Real files for the document tests: PDFs written with fpdf2 (pypdf encrypts them), and files of
other kinds. Pages hold known text, so a test can say which page a passage must cite."""

import io
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter


def make_pdf(pages: list[str]) -> bytes:
    """One PDF page per string; blank lines in a string start new paragraphs."""
    pdf = FPDF()
    pdf.set_auto_page_break(auto=False)  # one string, one page: a test's page numbers must hold
    pdf.set_font("Helvetica", size=9)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 4, text)
    return bytes(pdf.output())


def image_only_pdf(pages: int = 2) -> bytes:
    """Pages that carry only a picture, as a scanner makes them."""
    pdf = FPDF()
    for n in range(pages):
        pdf.add_page()
        pdf.image(Image.new("RGB", (200, 100), (40 * n, 120, 200)), x=10, y=10, w=100)
    return bytes(pdf.output())


def encrypted_pdf(pages: list[str], *, user_password: str, owner_password: str = "owner") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(pages))))
    writer.encrypt(user_password, owner_password=owner_password, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (255, 0, 0)).save(out, format="PNG")
    return out.getvalue()


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("report.txt", "This text sits inside a zip archive.")
    return out.getvalue()


def uploaded(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def sentences(topic: str, page: int, count: int) -> list[str]:
    """Distinct, checkable sentences for one page."""
    return [f"On page {page} the {topic} note number {i} says item {page}{i:02d} is filed under shelf {page * 7 + i}."
            for i in range(count)]
