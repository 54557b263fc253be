"""Token counting: real OpenAI encodings built offline, model lookup, chat-format overheads."""

import time

import pytest
import tiktoken
import tiktoken_ext.openai_public

from memory import tokens
from memory.tokens import (
    REPLY_PRIMING,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    count_message,
    count_tools,
    get_encoding,
    tokenizer_for_model,
)

# token ids from OpenAI's cookbook "How to count tokens with tiktoken" (compare_encodings)
COOKBOOK = {
    "hello world": {"cl100k_base": [15339, 1917], "o200k_base": [24912, 2375]},
    "tiktoken is great!": {"cl100k_base": [83, 1609, 5963, 374, 2294, 0], "o200k_base": [83, 8251, 2488, 382, 2212, 0]},
    "antidisestablishmentarianism": {
        "cl100k_base": [519, 85342, 34500, 479, 8997, 2191],
        "o200k_base": [493, 129901, 376, 160388, 21203, 2367],
    },
    "2 + 2 = 4": {"cl100k_base": [17, 489, 220, 17, 284, 220, 19], "o200k_base": [17, 659, 220, 17, 314, 220, 19]},
    "お誕生日おめでとう": {
        "cl100k_base": [33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699],
        "o200k_base": [8930, 9697, 243, 128225, 8930, 17693, 4344, 48669],
    },
}

# the cookbook's example conversation; the OpenAI API reported 129 prompt tokens for gpt-4 and
# gpt-3.5-turbo, 124 for gpt-4o and gpt-4o-mini
COOKBOOK_MESSAGES = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
    {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
]


@pytest.mark.parametrize("text", COOKBOOK)
@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_encodings_match_the_cookbook(text, encoding):
    tokenizer = tokens.TiktokenTokenizer(encoding)
    assert tokenizer.encode(text) == COOKBOOK[text][encoding]
    assert tokenizer.count(text) == len(COOKBOOK[text][encoding])
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_hello_world_is_two_tokens():
    assert tokens.TiktokenTokenizer("cl100k_base").count("hello world") == 2
    assert tokens.TiktokenTokenizer("o200k_base").count("hello world") == 2


def test_encodings_are_real_tiktoken_encodings_with_special_tokens():
    cl100k, o200k = get_encoding("cl100k_base"), get_encoding("o200k_base")
    assert isinstance(cl100k, tiktoken.Encoding)
    assert cl100k.n_vocab == 100277
    assert o200k.n_vocab == 200019
    assert cl100k.encode("<|endoftext|>", allowed_special="all") == [100257]
    assert cl100k.encode("<|endofprompt|>", allowed_special="all") == [100276]
    assert cl100k.encode("<|fim_middle|>", allowed_special="all") == [100259]
    assert o200k.encode("<|endoftext|>", allowed_special="all") == [199999]
    assert o200k.decode([200018]) == "<|endofprompt|>"
    with pytest.raises(ValueError):  # tiktoken's guard against special tokens in plain text still works
        cl100k.encode("<|endoftext|>")


def test_special_token_text_from_users_is_counted_as_plain_text():
    tokenizer = tokens.TiktokenTokenizer("cl100k_base")
    ids = tokenizer.encode("say <|endoftext|> now")
    assert 100257 not in ids
    assert tokenizer.count("<|endoftext|>") == 7
    assert tokenizer.decode(ids) == "say <|endoftext|> now"


def test_encodings_are_loaded_once():
    assert get_encoding("o200k_base") is get_encoding("o200k_base")
    with pytest.raises(ValueError, match="cl100k_base, o200k_base"):
        get_encoding("p50k_base")


def test_patterns_and_special_tokens_equal_tiktokens_own(monkeypatch):
    # tiktoken's constructors would download the ranks; hand them ours instead
    monkeypatch.setattr(tiktoken_ext.openai_public, "load_tiktoken_bpe", lambda *args, **kwargs: {})
    for name, (pat_str, special_tokens, _) in tokens.ENCODING_SPECS.items():
        theirs = tiktoken_ext.openai_public.ENCODING_CONSTRUCTORS[name]()
        assert theirs["pat_str"] == pat_str
        assert theirs["special_tokens"] == special_tokens


@pytest.mark.parametrize("text", [
    "naïve café, Zürich — 日本語のテキスト, emoji 🤖👩‍👩‍👧, Ελληνικά, עברית, tabs\tand\r\nnewlines",
    "\U0001f600" * 50,
    "",
])
@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_unicode_round_trips(text, encoding):
    tokenizer = tokens.TiktokenTokenizer(encoding)
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.count(text) == len(tokenizer.encode(text))


@pytest.mark.parametrize("model, encoding", [
    ("gpt-4o", "o200k_base"),
    ("gpt-4o-mini-2024-07-18", "o200k_base"),
    ("openai/gpt-4o-mini", "o200k_base"),
    ("chatgpt-4o-latest", "o200k_base"),
    ("gpt-4.1-nano", "o200k_base"),
    ("gpt-4.5-preview", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("openai/gpt-5-mini", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3-mini", "o200k_base"),
    ("o4-mini-2025-04-16", "o200k_base"),
    ("ft:gpt-4o-mini:acme::abc123", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-4-0613", "cl100k_base"),
    ("gpt-4-turbo", "cl100k_base"),
    ("openai/gpt-4-turbo-2024-04-09", "cl100k_base"),
    ("gpt-3.5-turbo", "cl100k_base"),
    ("gpt-3.5-turbo-0125", "cl100k_base"),
    ("text-embedding-3-small", "cl100k_base"),
    ("openai/text-embedding-3-large", "cl100k_base"),
    ("text-embedding-ada-002", "cl100k_base"),
])
def test_known_models_are_exact(model, encoding):
    tokenizer, approximate = tokenizer_for_model(model)
    assert tokenizer.name == encoding
    assert approximate is False


@pytest.mark.parametrize("model", [
    "llama-3.1-8b-instruct", "openai/qwen2.5-7b", "anthropic/claude-sonnet-4", "o1x", "gpt-4x", "", "mistral",
])
def test_unknown_models_fall_back_to_o200k_and_say_so(model):
    tokenizer, approximate = tokenizer_for_model(model)
    assert tokenizer.name == "o200k_base"
    assert approximate is True


def test_overhead_constants_are_the_cookbooks():
    assert (TOKENS_PER_MESSAGE, TOKENS_PER_NAME, REPLY_PRIMING) == (3, 1, 3)


@pytest.mark.parametrize("model, expected", [("gpt-4", 129), ("gpt-3.5-turbo", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)])
def test_cookbook_conversation_counts_what_the_api_reported(model, expected):
    tokenizer, _ = tokenizer_for_model(model)
    assert sum(count_message(tokenizer, message) for message in COOKBOOK_MESSAGES) + REPLY_PRIMING == expected


def test_count_message_arithmetic():
    tokenizer, _ = tokenizer_for_model("gpt-4o")
    count = tokenizer.count
    assert count_message(tokenizer, {"role": "user", "content": "hello world"}) == 3 + count("user") + 2
    assert count_message(tokenizer, {"role": "user", "content": "hello world", "name": "ann"}) == 3 + count("user") + 2 + 1 + count("ann")
    assert count_message(tokenizer, {"role": "assistant", "content": None}) == 3 + count("assistant")
    parts = {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": " world"}]}
    assert count_message(tokenizer, parts) == count_message(tokenizer, {"role": "user", "content": "hello world"})


def test_count_message_counts_tool_calls_and_results():
    tokenizer, _ = tokenizer_for_model("gpt-4o")
    call = {"id": "call_1", "type": "function",
            "function": {"name": "archival_memory_search", "arguments": '{"query": "birthday", "page": 0}'}}
    bare = count_message(tokenizer, {"role": "assistant", "content": None})
    with_call = count_message(tokenizer, {"role": "assistant", "content": None, "tool_calls": [call]})
    call_json = '{"id":"call_1","type":"function","function":{"name":"archival_memory_search","arguments":"{\\"query\\": \\"birthday\\", \\"page\\": 0}"}}'
    assert with_call - bare == tokenizer.count(call_json)
    assert with_call - bare > tokenizer.count("archival_memory_search") + tokenizer.count(call["function"]["arguments"])
    two_calls = count_message(tokenizer, {"role": "assistant", "content": None, "tool_calls": [call, call]})
    assert two_calls - bare == 2 * (with_call - bare)

    result = {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "OK", "message": "None"}'}
    assert count_message(tokenizer, result) == 3 + tokenizer.count("tool") + tokenizer.count(result["content"]) + tokenizer.count("call_1")


def test_count_tools_counts_compact_json():
    tokenizer, _ = tokenizer_for_model("gpt-4o")
    tools = [{"type": "function", "function": {"name": "send_message", "description": "Sends a message to the human.",
                                               "parameters": {"type": "object", "properties": {"message": {"type": "string"}},
                                                              "required": ["message"]}}}]
    compact = ('[{"type":"function","function":{"name":"send_message","description":"Sends a message to the human.",'
               '"parameters":{"type":"object","properties":{"message":{"type":"string"}},"required":["message"]}}}]')
    assert count_tools(tokenizer, tools) == tokenizer.count(compact)
    assert count_tools(tokenizer, []) == 0


def test_counting_the_same_long_text_again_is_cheap():
    tokenizer = tokens.TiktokenTokenizer("o200k_base")
    text = "The quick brown fox jumps over the lazy dog. " * 20_000 + str(time.time())  # new to the cache
    started = time.perf_counter()
    first = tokenizer.count(text)
    uncached = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        assert tokenizer.count(text) == first
    cached = (time.perf_counter() - started) / 100
    assert first == len(tokenizer.encode(text))
    assert cached < uncached / 20


def test_sections_add_up_to_the_whole_even_where_a_seam_merges():
    from memory.tokens import tokenizer_for_model

    tokenizer, _ = tokenizer_for_model("gpt-4o")
    for sections in (["You are Sam.", "\n\n<memory_blocks>x</memory_blocks>", "\n\n<memory_metadata>"],
                     ["ends with a newline\n", "\n\n<memory_blocks>", "\n\nmeta"],  # "\n" + "\n\n" merge
                     ["hello wor", "ld and more"]):  # a word split across the seam
        counts = tokenizer.count_sections(sections)
        assert sum(counts) == tokenizer.count("".join(sections))
        assert all(count >= 0 for count in counts)


@pytest.mark.parametrize("system", ["You are Sam.", "Ends in a tag>", "Ends with spaces  \n", ""])
def test_the_system_prompts_sections_are_counted_one_by_one_exactly(system):
    """The sections of the system message meet where tiktoken always splits, so each is counted
    alone (and cached) and the metadata, new every step, never makes the whole prompt be re-split."""
    from agents.engine.context import compile_context
    from agents.engine.tools import BASE_SCHEMAS as TOOL_SCHEMAS
    from tests.agents.in_memory_store import make_state

    tokenizer, _ = tokenizer_for_model("gpt-4o")
    before = tokens._count_sections_by_offsets.cache_info().misses
    for recall_count in range(3):  # the metadata changes from step to step
        context = compile_context(make_state(system=system, recall_count=recall_count), tools=TOOL_SCHEMAS,
                                  tokenizer=tokenizer, approximate=False)
        assert context.tokens["core_memory"] == tokenizer.count(context.sections["core_memory"] + "\n\n")
    assert tokens._count_sections_by_offsets.cache_info().misses == before
