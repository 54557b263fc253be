"""Exact token counting with OpenAI's tokenizers, offline.

The BPE ranks come from the gzipped vocab files that `bpe_openai` ships, checked against the
hashes tiktoken itself expects, and become real `tiktoken.Encoding` objects. We never call
`tiktoken.get_encoding`: it downloads the vocab on first use, and this machine has no network.
"""

import base64
import functools
import gzip
import hashlib
import json
import threading
import importlib.util
from pathlib import Path
from typing import Protocol

import tiktoken

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

# Copied from tiktoken_ext/openai_public.py (tiktoken 0.14): that module only defines these
# patterns inside constructors that download the vocab, so they cannot be imported offline.
# tests/memory/test_tokens.py checks they still equal tiktoken's own.
CL100K_PAT_STR = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
O200K_PAT_STR = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

# name -> (pat_str, special tokens, sha256 of the uncompressed vocab as tiktoken expects it)
ENCODING_SPECS: dict[str, tuple[str, dict[str, int], str]] = {
    "cl100k_base": (
        CL100K_PAT_STR,
        {ENDOFTEXT: 100257, FIM_PREFIX: 100258, FIM_MIDDLE: 100259, FIM_SUFFIX: 100260, ENDOFPROMPT: 100276},
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        O200K_PAT_STR,
        {ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}
FALLBACK_ENCODING = "o200k_base"

# OpenAI cookbook, "How to count tokens with tiktoken", for gpt-3.5-turbo-0613 and later models
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3

_encodings: dict[str, tiktoken.Encoding] = {}
_encodings_lock = threading.Lock()


def _vocab_path(name: str) -> Path:
    # find the package without importing it: its import loads a 74 MB Rust library we do not use
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("bpe-openai is not installed; it ships the tokenizer vocab files")
    return Path(spec.submodule_search_locations[0]) / "data" / f"{name}.tiktoken.gz"


def _load_ranks(name: str, expected_sha256: str) -> dict[bytes, int]:
    raw = gzip.decompress(_vocab_path(name).read_bytes())
    # a wrong or damaged vocab would miscount silently; fail loudly instead
    if hashlib.sha256(raw).hexdigest() != expected_sha256:
        raise RuntimeError(f"the {name} vocab shipped with bpe_openai does not match tiktoken's hash")
    ranks = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def get_encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken Encoding `name`, built from the bundled vocab once per process."""
    encoding = _encodings.get(name)
    if encoding is not None:
        return encoding
    if name not in ENCODING_SPECS:
        raise ValueError(f"unknown encoding {name!r}; available: {', '.join(ENCODING_SPECS)}")
    with _encodings_lock:
        if name not in _encodings:
            pat_str, special_tokens, sha256 = ENCODING_SPECS[name]
            _encodings[name] = tiktoken.Encoding(
                name, pat_str=pat_str, mergeable_ranks=_load_ranks(name, sha256), special_tokens=special_tokens
            )
        return _encodings[name]


@functools.lru_cache(maxsize=65536)
def _count(encoding_name: str, text: str) -> int:
    # the context compiler counts the same system prompt and blocks every step
    return len(get_encoding(encoding_name).encode_ordinary(text))


def _count_sections(encoding_name: str, sections: tuple[str, ...]) -> tuple[int, ...]:
    # Fast and exact in the usual case: each section counted alone (cached: the instructions and core
    # memory rarely change between steps) adds up to the whole. Where a seam merges differently,
    # the whole is split by token offsets instead.
    counts = tuple(_count(encoding_name, section) for section in sections)
    if sum(counts) == _count(encoding_name, "".join(sections)):
        return counts
    return _count_sections_by_offsets(encoding_name, sections)


@functools.lru_cache(maxsize=1024)
def _count_sections_by_offsets(encoding_name: str, sections: tuple[str, ...]) -> tuple[int, ...]:
    encoding = get_encoding(encoding_name)
    tokens = encoding.encode_ordinary("".join(sections))
    _, starts = encoding.decode_with_offsets(tokens)
    ends, position = [], 0
    for section in sections:
        position += len(section)
        ends.append(position)
    counts, index = [0] * len(sections), 0
    for start in starts:
        while index < len(ends) - 1 and start >= ends[index]:
            index += 1
        counts[index] += 1
    return tuple(counts)


class Tokenizer(Protocol):
    name: str

    def count(self, text: str) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, tokens: list[int]) -> str: ...

    def count_sections(self, sections: list[str]) -> list[int]: ...

    def count_tiers(self, texts: dict[str, str]) -> dict[str, int] | None:
        """Exact counts of a compiled prompt's tier texts from a better tokenizer than this one's own
        (a server's: agents/llm/tokenize.py), or None."""


class TiktokenTokenizer:
    """A tiktoken encoding. Text is encoded as ordinary text: a "<|endoftext|>" typed by a user
    is sent to the model as plain characters, so it is counted as such (`encoding` has the
    special tokens for whoever needs them)."""

    def __init__(self, name: str) -> None:
        if name not in ENCODING_SPECS:
            raise ValueError(f"unknown encoding {name!r}; available: {', '.join(ENCODING_SPECS)}")
        self.name = name

    @property
    def encoding(self) -> tiktoken.Encoding:
        return get_encoding(self.name)

    def count(self, text: str) -> int:
        return _count(self.name, text)

    def encode(self, text: str) -> list[int]:
        return self.encoding.encode_ordinary(text)

    def decode(self, tokens: list[int]) -> str:
        return self.encoding.decode(tokens)

    def count_sections(self, sections: list[str]) -> list[int]:
        """Tokens of "".join(sections), each counted in the section where its text starts.

        The joined text is tokenized once, as it is sent, so the counts add up to its exact
        total; tokenizing the sections apart could merge differently at their seams."""
        return list(_count_sections(self.name, tuple(sections)))

    def count_tiers(self, texts: dict[str, str]) -> dict[str, int] | None:
        return None  # its own counts are as good as it gets

    def __repr__(self) -> str:
        return f"TiktokenTokenizer({self.name!r})"


_tokenizers = {name: TiktokenTokenizer(name) for name in ENCODING_SPECS}

_O200K_PREFIXES = ("gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5")
_O200K_SERIES = ("o1", "o3", "o4")  # o1, o1-mini, o3-2025-04-16, o4-mini ...
_CL100K_PREFIXES = ("gpt-4-", "gpt-3.5-turbo", "gpt-35-turbo", "text-embedding-3-")
_CL100K_NAMES = ("gpt-4", "text-embedding-ada-002")


def encoding_name_for_model(model: str) -> str | None:
    """The encoding of a known OpenAI model, or None. Takes bare names, Letta-style handles
    ("openai/gpt-4o-mini") and fine-tune names ("ft:gpt-4o-mini:org::id")."""
    name = model.strip().lower().rsplit("/", 1)[-1].removeprefix("ft:")
    if name.startswith(_O200K_PREFIXES) or any(name == s or name.startswith(s + "-") for s in _O200K_SERIES):
        return "o200k_base"
    if name in _CL100K_NAMES or name.startswith(_CL100K_PREFIXES):
        return "cl100k_base"
    return None


def tokenizer_for_model(model: str) -> tuple[Tokenizer, bool]:
    """The tokenizer for `model` and whether counts with it are approximate: unknown models
    (local servers, other providers) are counted with o200k_base."""
    name = encoding_name_for_model(model)
    if name is None:
        return _tokenizers[FALLBACK_ENCODING], True
    return _tokenizers[name], False


def _compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _content_text(content: object) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    # a list of content parts: only text parts are text
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


def count_message(tokenizer: Tokenizer, message: dict) -> int:
    """Tokens of one OpenAI chat message dict, as it is sent.

    Exact: the tokens of the text sent (role, content, name, tool_call_id, and for each
    assistant tool call the compact JSON of the call, which holds the function name and its
    arguments string). Convention, as OpenAI's cookbook documents it for current chat models:
    TOKENS_PER_MESSAGE per message and TOKENS_PER_NAME more when it has a `name`. Add
    REPLY_PRIMING once per request.
    """
    tokens = TOKENS_PER_MESSAGE + tokenizer.count(message["role"]) + tokenizer.count(_content_text(message.get("content")))
    if message.get("name"):
        tokens += TOKENS_PER_NAME + tokenizer.count(message["name"])
    if message.get("tool_call_id"):
        tokens += tokenizer.count(message["tool_call_id"])
    for call in message.get("tool_calls") or ():
        tokens += tokenizer.count(_compact_json(call))
    return tokens


def count_tools(tokenizer: Tokenizer, tools: list[dict]) -> int:
    """Tokens of the compact JSON of a request's `tools` array.

    Providers format tools into the prompt internally, in ways they do not document, so this is
    our measured convention, not an exact count; the provider's reported prompt_tokens shows
    the gap.
    """
    return tokenizer.count(_compact_json(tools)) if tools else 0
