"""Documents as text, with no database: sniff a file's type, parse it page by page, cut the pages
into chunks. memory.ingestion runs these in its pipeline; they are pure, so they are tested and
measured without Django.
"""

import codecs
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, TYPE_CHECKING

from memory.text import clean

if TYPE_CHECKING:  # only the protocol: at run time this module imports no Django
    from memory.embeddings import Embedder

PDF, MARKDOWN, TEXT = "application/pdf", "text/markdown", "text/plain"
MARKDOWN_EXTENSIONS = {".md", ".markdown", ".mdown", ".mkd"}
SNIFF_BYTES = 8192
# past this, longer chunks only dilute their vector and fill the agent's context window when a
# page of search results comes back (5 results of 8000 tokens would not fit most windows)
MAX_CHUNK_TOKENS = 512
# a text file is read in parts of about this many characters, cut at whitespace
TEXT_PART_CHARS = 64 * 1024

# magic numbers of files people upload by mistake, to say what the file looks like
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or a .docx/.xlsx/.epub)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office file"),
    (b"{\\rtf", "an RTF document"),
)


class IngestionError(Exception):
    """A document that cannot be ingested, said so that the person who uploaded it can act."""


# --- sniffing ----------------------------------------------------------------------------------


def _looks_like(head: bytes) -> str:
    for magic, name in SIGNATURES:
        if head.startswith(magic):
            return f" (it looks like {name})"
    return ""


def _is_markdown(head: str) -> bool:
    signals = [
        r"^#{1,6}\s+\S",  # headings
        r"^```",  # code fences
        r"\[[^\]\n]+\]\([^)\s]+\)",  # links
        r"^\s*[-*+]\s+\S",  # bullet lists
        r"\*\*[^*\n]+\*\*",  # bold
        r"^>\s",  # quotes
    ]
    return sum(bool(re.search(pattern, head, re.MULTILINE)) for pattern in signals) >= 2


def sniff(head: bytes, filename: str) -> str:
    """The content type, PDF, Markdown or plain text, from the file's first bytes (the name only
    tells Markdown from plain text); IngestionError for anything else."""
    if not head:
        raise IngestionError("the file is empty")
    if b"%PDF-" in head[:1024]:  # readers accept a little junk before the header, as pypdf does
        return PDF
    named_pdf = PurePath(filename).suffix.lower() == ".pdf"
    what = "not a PDF although named .pdf" if named_pdf else "unsupported file type"
    expected = "upload a PDF, plain text or Markdown file"
    if b"\x00" in head:  # text never holds NUL: this is a binary file
        raise IngestionError(f"{what}{_looks_like(head) or ' (it holds NUL bytes, so it is not text)'}: {expected}")
    try:
        # incremental, so that a character cut at the end of the sample is no error
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        raise IngestionError(f"{what}{_looks_like(head)}: {expected} (text must be UTF-8)") from None
    if PurePath(filename).suffix.lower() in MARKDOWN_EXTENSIONS or _is_markdown(text):
        return MARKDOWN
    return TEXT


# --- parsing -------------------------------------------------------------------------------------


@dataclass
class Parsed:
    pages_total: int
    # (page number or None for text without pages, text ending with its paragraph break)
    pages: Iterator[tuple[int | None, str]]


def _pdf_page_text(raw: str) -> str:
    """PDF lines break where the layout did, not the author: join them; keep blank-line paragraphs."""
    paragraphs = [" ".join(line.strip() for line in block.splitlines() if line.strip())
                  for block in re.split(r"\n[ \t]*\n", clean(raw, replacement=""))]  # font-map junk goes
    return "\n\n".join(p for p in paragraphs if p)


def _bomb(where: str) -> IngestionError:
    from pypdf.filters import ZLIB_MAX_OUTPUT_LENGTH

    return IngestionError(f"{where}: a compressed stream expands past {ZLIB_MAX_OUTPUT_LENGTH // 1_000_000} MB "
                          f"(a decompression bomb?)")


def parse_pdf(stream: IO[bytes]) -> Parsed:
    from pypdf import PdfReader
    # pypdf>=6 stops a stream that decompresses past its limits (pypdf.filters.ZLIB_MAX_OUTPUT_LENGTH
    # and the like, 75 MB) with LimitReachedError: a PDF of a few KB could otherwise expand to
    # gigabytes in the worker's memory. Importing it fails loudly on a pypdf without the limits.
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PdfReadError

    try:
        reader = PdfReader(stream)
        if reader.is_encrypted and not reader.decrypt(""):  # many "secured" PDFs open with no password
            raise IngestionError("encrypted PDF: remove the password first")
        pages_total = len(reader.pages)
    except IngestionError:
        raise
    except LimitReachedError:
        raise _bomb("the PDF's structure") from None
    except FileNotDecryptedError:
        raise IngestionError("encrypted PDF: remove the password first") from None
    except DependencyError as error:
        raise IngestionError(f"encrypted PDF that this server cannot decrypt ({error})") from None
    except Exception as error:  # pypdf raises many kinds on broken files: all mean "not readable"
        raise IngestionError(f"corrupt PDF: {error_reason(error)}") from None
    if pages_total == 0:
        raise IngestionError("the PDF has no pages")

    def pages() -> Iterator[tuple[int | None, str]]:
        found_text = False
        for number, page in enumerate(reader.pages, start=1):
            try:
                text = _pdf_page_text(page.extract_text() or "")
            except LimitReachedError:
                raise _bomb(f"page {number}") from None
            except PdfReadError as error:
                raise IngestionError(f"corrupt PDF: page {number} cannot be read ({error_reason(error)})") from None
            except Exception as error:
                raise IngestionError(f"page {number} cannot be read: {error_reason(error)}") from None
            found_text = found_text or bool(text)
            yield number, text + "\n\n" if text else ""
        if not found_text:
            raise IngestionError("no text found (scanned or image-only PDF?)")

    return Parsed(pages_total, pages())


def parse_text(stream: IO[bytes]) -> Parsed:
    data = stream.read()
    if b"\x00" in data:
        raise IngestionError("not a text file: it contains NUL bytes")
    try:
        text = data.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as error:
        raise IngestionError(f"not UTF-8 text (invalid byte at position {error.start})") from None
    if not text.strip():
        raise IngestionError("no text found: the file holds only whitespace")

    def parts() -> Iterator[tuple[int | None, str]]:
        start = 0
        while start < len(text):
            end = start + TEXT_PART_CHARS
            if end < len(text):  # cut at a paragraph, else a line, else a space, so no word is cut
                window = text[start:end]
                for mark in ("\n\n", "\n", " "):
                    cut = window.rfind(mark)
                    if cut > 0:
                        end = start + cut + len(mark)
                        break
            yield None, text[start:end]
            start = end

    return Parsed(1, parts())


def parse(stream: IO[bytes], filename: str) -> tuple[str, Parsed]:
    """The content type (from `sniff`) and the parsed file. Pages are read from `stream` as they
    are iterated, so it must stay open until then."""
    if not stream.seekable():
        stream = io.BytesIO(stream.read())
    content_type = sniff(stream.read(SNIFF_BYTES), filename)
    stream.seek(0)
    return content_type, parse_pdf(stream) if content_type == PDF else parse_text(stream)


def error_reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:  # not str(): it names the file, a path on the server
        return error.strerror
    return str(error).strip() or type(error).__name__


# --- chunking ------------------------------------------------------------------------------------


def chunk_sizes(embedder: "Embedder") -> tuple[int, int]:
    """(chunk tokens, overlap tokens) for what the model reads: a fifth below its limit, for
    the [CLS]/[SEP] tokens and tokenizers that count a little differently; 204/31 for MiniLM."""
    size = min(int(embedder.max_tokens * 0.8), MAX_CHUNK_TOKENS)
    return size, round(size * 0.15)


@dataclass
class Chunk:
    text: str
    page_start: int | None
    page_end: int | None
    tokens: int


@dataclass
class _Unit:
    text: str  # with its trailing whitespace, so units joined give back the original text
    page: int | None
    tokens: int
    paragraph_end: bool


# a sentence ends at . ! ? (and closing quotes/brackets) followed by whitespace; a paragraph at a blank line
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+|\n[ \t]*\n\s*")


class Chunker:
    """Cuts a stream of pages into chunks of at most `size` tokens, each starting with about
    `overlap` tokens repeated from the previous chunk of the same page. Units are sentences: a full
    chunk ends at its last paragraph break if that leaves it at least half full, else at a sentence.
    A sentence longer than a chunk is cut between words into pieces of `overlap` tokens (a single
    word longer still, between characters). Nothing is dropped."""

    def __init__(self, count_tokens: Callable[[str], int], size: int, overlap: int) -> None:
        if not 0 <= overlap < size:
            raise ValueError(f"overlap {overlap} must be below the chunk size {size}")
        self.count = count_tokens
        self.size = size
        self.overlap = overlap
        self.piece = overlap or size  # pieces of a cut sentence are small, so that they can overlap too
        self.buffer: list[_Unit] = []  # not yet in any chunk
        self.carry: list[_Unit] = []  # the end of the last chunk, repeated at the start of the next
        self.page: int | None = None

    def feed(self, page: int | None, text: str) -> Iterator[Chunk]:
        if page != self.page:
            # a chunk never spans pages, as in the original `memgpt load`: a citation names one
            # page, and a page is usually one topic (a slide, a section) worth its own vector
            yield from self.finish()
            self.carry = []
            self.page = page
        for unit in self._units(page, text):
            self.buffer.append(unit)
            while sum(u.tokens for u in self.carry + self.buffer) > self.size:
                yield self._emit()

    def finish(self) -> Iterator[Chunk]:
        while self.buffer:
            yield self._emit()

    def _units(self, page: int | None, text: str) -> Iterator[_Unit]:
        start = 0
        for match in _BOUNDARY.finditer(text):
            paragraph_end = bool(re.search(r"\n[ \t]*\n", match.group()))
            yield from self._unit(page, text[start:match.end()], paragraph_end)
            start = match.end()
        if start < len(text):
            yield from self._unit(page, text[start:], paragraph_end=False)

    def _unit(self, page: int | None, text: str, paragraph_end: bool) -> Iterator[_Unit]:
        if not text.strip():
            if self.buffer and text:  # whitespace between parts of a text file: keep it with the text before
                self.buffer[-1].text += text
            return
        tokens = self.count(text)
        if tokens <= self.size:
            yield _Unit(text, page, tokens, paragraph_end)
            return
        pieces = self._split(text, self.piece)
        for i, piece in enumerate(pieces):
            yield _Unit(piece, page, self.count(piece), paragraph_end and i == len(pieces) - 1)

    def _split(self, text: str, limit: int) -> list[str]:
        """Cut an over-long sentence between words into pieces of at most `limit` tokens."""
        pieces: list[str] = []
        current, current_tokens = "", 0
        for word in re.findall(r"\s*\S+\s*", text):
            tokens = self.count(word)
            if tokens > limit:  # one "word" longer than a piece (a URL, base64): cut by characters
                if current:
                    pieces.append(current)
                    current, current_tokens = "", 0
                pieces.extend(self._split_characters(word, limit))
                continue
            if current and current_tokens + tokens > limit:
                pieces.append(current)
                current, current_tokens = "", 0
            current += word
            current_tokens += tokens
        if current:
            pieces.append(current)
        return pieces

    def _split_characters(self, word: str, limit: int) -> list[str]:
        pieces = []
        while word:
            low, high = 1, len(word)  # the longest prefix within the limit, by bisection
            while low < high:
                middle = (low + high + 1) // 2
                if self.count(word[:middle]) <= limit:
                    low = middle
                else:
                    high = middle - 1
            pieces.append(word[:low])
            word = word[low:]
        return pieces

    def _emit(self) -> Chunk:
        """The next chunk from the front of the buffer (with the carried overlap before it)."""
        while True:
            fits = 0  # how many buffer units fit after the carry
            total = sum(u.tokens for u in self.carry)
            for unit in self.buffer:
                if total + unit.tokens > self.size:
                    break
                total += unit.tokens
                fits += 1
            if fits == 0:
                if not self.carry:  # cannot happen: every unit is at most `size` tokens
                    raise AssertionError("a unit is longer than a chunk")
                self.carry = []  # the overlap and the next unit do not fit together: no overlap here
                continue
            take = fits
            if fits < len(self.buffer):  # the chunk is full: prefer to end it at a paragraph break
                total = sum(u.tokens for u in self.carry)
                for i, unit in enumerate(self.buffer[:fits]):
                    total += unit.tokens
                    if unit.paragraph_end and total >= self.size / 2:
                        take = i + 1
            units = self.carry + self.buffer[:take]
            text = "".join(u.text for u in units).strip()
            tokens = self.count(text)
            # units were counted alone; joined, a tokenizer may count a few more: give one back
            while tokens > self.size and take > 1:
                take -= 1
                units = self.carry + self.buffer[:take]
                text = "".join(u.text for u in units).strip()
                tokens = self.count(text)
            if tokens > self.size:
                if self.carry:
                    self.carry = []
                    continue
                raise AssertionError("a unit is longer than a chunk")
            break
        self.buffer = self.buffer[take:]
        self.carry = []
        carried = 0
        for unit in reversed(units):
            if carried + unit.tokens > self.overlap:
                break
            self.carry.insert(0, unit)
            carried += unit.tokens
        pages = [u.page for u in units if u.page is not None]
        return Chunk(text, min(pages) if pages else None, max(pages) if pages else None, tokens)
