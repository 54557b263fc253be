"""Documents as text, with no database: sniffing the type, parsing, and cutting pages into chunks
(memory.parsing)."""

import io
import random
import re
import string
import tracemalloc
import zlib
from types import SimpleNamespace

import pytest

from memory.embeddings import get_embedder
from memory.parsing import MARKDOWN, PDF, TEXT, Chunker, IngestionError, chunk_sizes, error_reason, parse, sniff
from memory.text import clean
from tests.memory.documents import make_pdf, png_bytes, sentences, zip_bytes

MODEL = "local/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def embedder():
    return get_embedder(MODEL)


# --- sniffing --------------------------------------------------------------------------------------


def test_content_decides_the_type_and_the_name_only_tells_markdown_from_text():
    assert sniff(b"%PDF-1.7\n...", "notes.txt") == PDF
    assert sniff(b"Just a plain note.\nSecond line.", "notes") == TEXT
    assert sniff(b"Plain words", "notes.md") == MARKDOWN
    assert sniff(b"# Title\n\nSome **bold** text and a [link](http://x.y).\n", "notes.txt") == MARKDOWN
    assert sniff("Caf\u00e9 cr\u00e8me".encode()[:4], "cut.txt") == TEXT  # a character cut at the end of the sample


@pytest.mark.parametrize("head, name, message", [
    (b"", "a.pdf", "the file is empty"),
    (png_bytes(), "picture.png", "unsupported file type (it looks like a PNG image)"),
    (zip_bytes(), "report.pdf", "not a PDF although named .pdf (it looks like a ZIP archive"),
    ("Latin-1 caf\u00e9 text".encode("latin-1"), "old.txt", "text must be UTF-8"),
    (b"text\x00with a NUL", "odd.txt", "unsupported file type (it holds NUL bytes, so it is not text)"),
])
def test_other_files_are_refused_with_a_clear_reason(head, name, message):
    with pytest.raises(IngestionError, match=re.escape(message)):
        sniff(head, name)


# --- parsing ---------------------------------------------------------------------------------------


class Unseekable(io.BytesIO):
    """A stream that reads only forward, as some storages hand out files."""

    def seekable(self) -> bool:
        return False

    def seek(self, *args) -> int:
        raise io.UnsupportedOperation("seek")


def test_parse_sniffs_the_type_then_reads_the_pages_even_from_a_stream_that_cannot_seek():
    content_type, parsed = parse(Unseekable(make_pdf(["First page.", "Second page."])), "upload.bin")
    assert (content_type, parsed.pages_total) == (PDF, 2)
    assert list(parsed.pages) == [(1, "First page.\n\n"), (2, "Second page.\n\n")]
    markdown = "# Title\n\nSome **bold** words.\n"
    content_type, parsed = parse(Unseekable(markdown.encode()), "notes.txt")
    assert (content_type, parsed.pages_total, list(parsed.pages)) == (MARKDOWN, 1, [(None, markdown)])


@pytest.mark.parametrize("data, message", [
    (b"a" * 9000 + "caf\u00e9".encode("latin-1"), "not UTF-8 text (invalid byte at position 9003)"),
    (b"a" * 9000 + b"\x00", "not a text file: it contains NUL bytes"),
])
def test_text_past_the_sniffed_head_is_checked_too(data, message):
    with pytest.raises(IngestionError, match=re.escape(message)):
        parse(io.BytesIO(data), "long.txt")


def raw_pdf(content: bytes, *, filters: str = "/FlateDecode", to_unicode: bytes | None = None) -> bytes:
    """A one-page PDF whose content stream is `content` (already encoded with `filters`), written
    by hand: no PDF library writes the broken files these tests need. Font F1 is Helvetica, with
    `to_unicode` as its ToUnicode CMap if given."""
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica" + (b" /ToUnicode 6 0 R" if to_unicode else b"") + b" >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter %s >>\nstream\n" % (len(content), filters.encode()) + content + b"\nendstream",
        font,
    ]
    if to_unicode:
        objects.append(b"<< /Length %d >>\nstream\n" % len(to_unicode) + to_unicode + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def zeros_deflated(size: int) -> bytes:
    """zlib data that inflates to `size` zero bytes (whole MiB): one compressed MiB repeated, which
    a full flush makes possible, with the checksum of the whole, so the bomb is built in a blink."""
    mib = b"\0" * (1 << 20)
    compressor = zlib.compressobj(9)
    head = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()[:-4]  # the last block, without the checksum of two MiB
    checksum = 1
    for _ in range(size >> 20):
        checksum = zlib.adler32(mib, checksum)
    return head + repeated * ((size >> 20) - 1) + end + checksum.to_bytes(4, "big")


def bomb_pdf() -> bytes:
    """A page whose content stream is 1 GiB of zeros, deflated twice: a PDF of 2 KB."""
    return raw_pdf(zlib.compress(zeros_deflated(1 << 30), 9), filters="[/FlateDecode /FlateDecode]")


def test_a_decompression_bomb_ends_the_document_with_a_clear_error_without_filling_memory():
    data = bomb_pdf()
    assert len(data) < 4096
    _, parsed = parse(io.BytesIO(data), "harmless.pdf")
    tracemalloc.start()
    try:
        with pytest.raises(IngestionError, match=re.escape(
                "page 1: a compressed stream expands past 75 MB (a decompression bomb?)")):
            list(parsed.pages)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 300 * 1024 * 1024  # pypdf stopped at its limit, far below the GiB


CMAP = b"""/CIDInit /ProcSet findresource begin 12 dict begin begincmap
/CMapName /Broken def /CMapType 2 def
1 begincodespacerange <00> <FF> endcodespacerange
3 beginbfchar
<01> <D800>
<02> <D83DDE00>
<03> <0041>
endbfchar
endcmap CMapName currentdict /CMap defineresource pop end end"""


def test_nul_characters_and_lone_surrogates_are_dropped_from_a_pdfs_text():
    nul = raw_pdf(zlib.compress(b"BT /F1 12 Tf 72 700 Td (Hello\\000World) Tj ET"))
    assert list(parse(io.BytesIO(nul), "nul.pdf")[1].pages) == [(1, "HelloWorld\n\n")]
    # a broken ToUnicode map: code 1 is half of a character, code 2 a whole one spelled as a pair
    surrogates = raw_pdf(zlib.compress(b"BT /F1 12 Tf 72 700 Td (\\003\\001\\003\\002\\003) Tj ET"), to_unicode=CMAP)
    [(page, text)] = parse(io.BytesIO(surrogates), "surrogates.pdf")[1].pages
    assert text == "AA\U0001F600A\n\n"
    text.encode("utf-8")  # what PostgreSQL is sent


def test_clean_text_keeps_everything_else():
    assert clean("caf\u00e9 \U0001F600 tab\there") == "caf\u00e9 \U0001F600 tab\there"
    assert clean("a\x00b\udfffc\ud83d\ude00", replacement="") == "abc\U0001F600"  # a split pair is joined
    assert clean("a\x00b\udfffc") == "a\ufffdb\ufffdc"


def test_an_os_errors_reason_names_no_path_on_the_server():
    error = FileNotFoundError(2, "No such file or directory", "/srv/playground/media/documents/secret.pdf")
    assert error_reason(error) == "No such file or directory"
    assert error_reason(ValueError("bad xref")) == "bad xref" and error_reason(KeyError()) == "KeyError"


# --- chunking --------------------------------------------------------------------------------------


def test_chunks_are_sized_to_what_the_model_reads():
    assert chunk_sizes(get_embedder(MODEL)) == (204, 31)  # all-MiniLM-L6-v2 reads 256 word pieces
    assert chunk_sizes(SimpleNamespace(max_tokens=512)) == (409, 61)
    assert chunk_sizes(SimpleNamespace(max_tokens=8191)) == (512, 77)  # capped: results must fit a context window


def chunk_pages(embedder, pages: list[str], size: int = 204, overlap: int = 31):
    chunker = Chunker(embedder.count_tokens, size, overlap)
    chunks = [c for number, text in enumerate(pages, start=1) for c in chunker.feed(number, text + "\n\n")]
    return chunks + list(chunker.finish())


def test_chunks_stay_within_the_limit_keep_every_sentence_and_cite_their_pages(embedder):
    pages = [" ".join(sentences("budget", n, 12)) + "\n\n" + " ".join(sentences("travel", n, 6)) for n in range(1, 5)]
    chunks = chunk_pages(embedder, pages)
    assert len(chunks) > 4
    for chunk in chunks:
        assert chunk.tokens == embedder.count_tokens(chunk.text) <= 204
    for number, page in enumerate(pages, start=1):
        for sentence in re.split(r"(?<=\.)\s+", page):
            holders = [c for c in chunks if sentence in c.text]
            assert holders, sentence
            assert all(c.page_start <= number <= c.page_end for c in holders)
    # consecutive chunks share their edge: the overlap
    assert any(c.text.split(". ")[-1] in d.text for c, d in zip(chunks, chunks[1:]))


def test_a_chunk_prefers_to_end_at_a_paragraph_break(embedder):
    first = " ".join(sentences("budget", 1, 7))  # 119 tokens: more than half a chunk
    second = " ".join(sentences("travel", 1, 7))  # together, more than a chunk
    chunks = chunk_pages(embedder, [first + "\n\n" + second])
    assert chunks[0].text == first


def test_an_over_long_sentence_is_cut_between_words_and_nothing_is_dropped(embedder):
    words = [f"w{i}" for i in range(1500)]  # one "sentence" of thousands of tokens, no punctuation
    chunks = chunk_pages(embedder, ["Intro sentence. " + " ".join(words) + " and the end."])
    assert all(embedder.count_tokens(c.text) <= 204 for c in chunks)
    found = set(" ".join(c.text for c in chunks).split())
    assert set(words) <= found and {"Intro", "sentence.", "end."} <= found


def test_a_word_longer_than_a_chunk_is_cut_by_characters():
    chunker = Chunker(len, 50, 10)  # a tokenizer that counts characters, so that one word is far over the limit
    word = "".join(random.Random(3).choices(string.ascii_lowercase, k=400))
    chunks = [c.text for c in chunker.feed(1, word)] + [c.text for c in chunker.finish()]
    assert all(len(text) <= 50 for text in chunks)
    starts = [word.index(text) for text in chunks]  # each chunk is a piece of the word...
    assert starts[0] == 0 and starts[-1] + len(chunks[-1]) == len(word)
    for start, text, following in zip(starts, chunks, starts[1:]):  # ...and the next one starts inside it or right after
        assert start < following <= start + len(text)
