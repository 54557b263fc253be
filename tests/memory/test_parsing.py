"""Documents as text, with no database: sniffing the type, parsing, and cutting pages into chunks
(memory.parsing)."""

import io
import random
import re
import string
from types import SimpleNamespace

import pytest

from memory.embeddings import get_embedder
from memory.parsing import MARKDOWN, PDF, TEXT, Chunker, IngestionError, chunk_sizes, parse, sniff
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
    (b"text\x00with a NUL", "odd.txt", "unsupported file type"),
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
