"""A custom tool's schema read from its source: the schema the model sees, or the line to fix."""

from textwrap import dedent

import jsonschema
import pytest

from agents.engine.tools import HEARTBEAT_PROPERTY, TOOL_NAMES
from agents.tools.schema import MAX_SOURCE_CHARS, ParsedTool, ToolSourceError, tool_parse, tool_schema

SUPPORTED = "use str, int, float, bool, list, dict, Literal, Optional or a union of them"


def refusal(source: str) -> ToolSourceError:
    with pytest.raises(ToolSourceError) as caught:
        tool_parse(dedent(source))
    return caught.value


def parameters(source: str) -> dict:
    return tool_parse(dedent(source)).parameters


# docstring styles


def test_a_google_docstring_describes_each_type_and_only_its_summary_is_the_description():
    parsed = tool_parse(dedent('''\
        from typing import Any

        def plan_trip(city: str, days: int, budget: float, pets: bool, stops: list[str], extras: dict,
                      notes: Any) -> str:
            """Plan a trip to a city.

            Use it when the user asks for an itinerary.

            Args:
                city (str): Where to go.
                days: How many days,
                    counting the day of arrival.
                budget (float): Money to spend, in euros.
                pets: Whether pets come along.
                stops: Places to see.
                extras: Anything else, by name.

            Returns:
                str: The plan.
            """
        '''))

    assert parsed.name == "plan_trip"
    assert parsed.description == "Plan a trip to a city.\n\nUse it when the user asks for an itinerary."
    assert parsed.returns == "str"
    assert parsed.takes_agent_state is False
    assert parsed.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "Where to go."},
            "days": {"type": "integer", "description": "How many days,\ncounting the day of arrival."},
            "budget": {"type": "number", "description": "Money to spend, in euros."},
            "pets": {"type": "boolean", "description": "Whether pets come along."},
            "stops": {"type": "array", "items": {"type": "string"}, "description": "Places to see."},
            "extras": {"type": "object", "description": "Anything else, by name."},
            "notes": {},  # Any, and the docstring says nothing about it: no description key
        },
        "required": ["city", "days", "budget", "pets", "stops", "extras", "notes"],
    }


def test_a_numpy_docstring_describes_the_parameters():
    parsed = tool_parse(dedent('''\
        def convert(amount: float, currency: str = "EUR", rates: dict[str, float] | None = None):
            """Convert an amount of money.

            Rates come from the given table.

            Parameters
            ----------
            amount : float
                How much money.
            currency : str, optional
                The target currency.
            rates : dict
                Rate per currency code.

            Returns
            -------
            float
            """
        '''))

    assert parsed.description == "Convert an amount of money.\n\nRates come from the given table."
    assert parsed.returns is None
    assert parsed.parameters == {
        "type": "object",
        "properties": {
            "amount": {"type": "number", "description": "How much money."},
            "currency": {"type": "string", "description": "The target currency.", "default": "EUR"},
            "rates": {
                "type": "object",
                "additionalProperties": {"type": "number"},
                "description": "Rate per currency code.",
                "default": None,
            },
        },
        "required": ["amount"],
    }


def test_a_rest_docstring_describes_the_parameters():
    parsed = tool_parse(dedent('''\
        def remind(text: str, minutes: int = 10, urgent: bool = False) -> None:
            """Set a reminder for the user.

            :param text: What to remind of.
            :param int minutes: In how many minutes.
            :returns: nothing
            """
        '''))

    assert parsed.description == "Set a reminder for the user."
    assert parsed.returns == "None"
    assert parsed.parameters["properties"] == {
        "text": {"type": "string", "description": "What to remind of."},
        "minutes": {"type": "integer", "description": "In how many minutes.", "default": 10},
        "urgent": {"type": "boolean", "default": False},
    }
    assert parsed.parameters["required"] == ["text"]


def test_one_google_entry_may_describe_several_parameters():
    properties = parameters('''\
        def move(x: int, y: int):
            """Move the cursor.

            Args:
                x, y: The new position.
            """
        ''')["properties"]

    assert properties == {
        "x": {"type": "integer", "description": "The new position."},
        "y": {"type": "integer", "description": "The new position."},
    }


# optional, defaults, required


def test_a_parameter_is_required_exactly_when_it_has_no_default():
    schema = parameters('''\
        from typing import Optional, Union
        LIMIT = 5

        def search(query: Optional[str], page: Optional[int] = None, size: int | None = 20,
                   since: Union[str, None] = "2024-01-01", limit: int = LIMIT, tags: list = ["a", ("b",)],
                   *, exact: bool, fuzzy: bool = True):
            """Search the notes."""
        ''')

    assert schema["properties"] == {
        "query": {"type": "string"},  # Optional without a default: the model must still send it
        "page": {"type": "integer", "default": None},
        "size": {"type": "integer", "default": 20},
        "since": {"type": "string", "default": "2024-01-01"},
        "limit": {"type": "integer"},  # a name as default: not shown, but still not required
        "tags": {"type": "array"},  # a tuple inside: not JSON, so not shown
        "exact": {"type": "boolean"},
        "fuzzy": {"type": "boolean", "default": True},
    }
    assert schema["required"] == ["query", "exact"]


def test_a_union_of_several_types_becomes_any_of_and_none_is_left_out():
    properties = parameters('''\
        from typing import Union

        def lookup(key: Union[int, str, None], value: int | str | int = 0):
            """Look a key up."""
        ''')["properties"]

    assert properties == {
        "key": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "value": {"anyOf": [{"type": "integer"}, {"type": "string"}], "default": 0},
    }


# Literal


def test_literal_values_become_an_enum_of_their_json_type():
    properties = parameters('''\
        from typing import Literal, Optional
        import typing_extensions

        def paint(color: Literal["red", "green"], flag: Literal[True], mixed: typing_extensions.Literal["auto", 0],
                  size: Literal[1, 2, -3] = 1, shade: Optional[Literal["dark"]] = None):
            """Paint the wall."""
        ''')["properties"]

    assert properties == {
        "color": {"type": "string", "enum": ["red", "green"]},
        "flag": {"type": "boolean", "enum": [True]},
        "mixed": {"enum": ["auto", 0]},
        "size": {"type": "integer", "enum": [1, 2, -3], "default": 1},
        "shade": {"type": "string", "enum": ["dark"], "default": None},
    }


# nesting, string annotations, typing spellings


def test_containers_nest_and_none_deep_inside_becomes_null():
    properties = parameters('''\
        def load(rows: list[dict[str, int]], index: dict[str, list[int | None]]):
            """Load rows."""
        ''')["properties"]

    assert properties == {
        "rows": {"type": "array", "items": {"type": "object", "additionalProperties": {"type": "integer"}}},
        "index": {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "items": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            },
        },
    }


def test_string_annotations_are_read_like_the_others():
    parsed = tool_parse(dedent('''\
        def tag(names: "list[int]", label: "Optional[str]" = None, pairs: list["dict[str, float]"] = []) -> "list[str]":
            """Tag things."""
        '''))

    assert parsed.parameters["properties"] == {
        "names": {"type": "array", "items": {"type": "integer"}},
        "label": {"type": "string", "default": None},
        "pairs": {"type": "array", "items": {"type": "object", "additionalProperties": {"type": "number"}}, "default": []},
    }
    assert parsed.returns == '"list[str]"'


def test_typing_may_be_spelled_through_the_module_or_an_alias():
    properties = parameters('''\
        import typing
        import typing as t
        from typing import List as Items

        def group(a: typing.List[int], b: t.Dict[str, t.Any], c: Items[str], d: t.Optional[t.Union[int, float]]):
            """Group values."""
        ''')["properties"]

    assert properties == {
        "a": {"type": "array", "items": {"type": "integer"}},
        "b": {"type": "object", "additionalProperties": {}},
        "c": {"type": "array", "items": {"type": "string"}},
        "d": {"anyOf": [{"type": "integer"}, {"type": "number"}]},
    }


# agent_state, the last-function rule


def test_agent_state_is_passed_by_the_runner_and_left_out_of_the_schema():
    parsed = tool_parse(dedent('''\
        def remember(agent_state, fact: str):
            """Remember a fact.

            Args:
                agent_state: The agent's state, passed by the runner.
                fact: What to remember.
            """
        '''))

    assert parsed.takes_agent_state is True
    assert parsed.parameters == {
        "type": "object",
        "properties": {"fact": {"type": "string", "description": "What to remember."}},
        "required": ["fact"],
    }


def test_the_tool_is_the_last_top_level_function_and_helpers_may_come_before_it():
    parsed = tool_parse(dedent('''\
        import math

        def _round(x):
            return math.floor(x)

        async def _fetch(url):
            return url

        class Helper:
            def method(self, y: int):
                """Not the tool: not at the top level."""

        def area(radius: float) -> float:
            """Area of a circle."""
            return _round(math.pi * radius**2)

        if __name__ == "__main__":
            def main(z: int):
                """Not the tool either."""
        '''))

    assert parsed.name == "area"
    assert parsed.parameters["properties"] == {"radius": {"type": "number"}}


# refusals, each with its line


def test_a_syntax_error_is_refused_with_its_line_and_pythons_message():
    error = refusal('''\
        def greet(name: str):
            """Greet."""
            return name +
        ''')

    assert (error.line, error.reason) == (3, "invalid syntax")
    assert str(error) == "line 3: invalid syntax"


def test_a_parameter_without_annotation_is_refused_at_its_line():
    error = refusal('''\
        def greet(name: str,
                  times,
                  loud: bool = False):
            """Greet."""
        ''')

    assert str(error) == "line 2: parameter 'times' has no type annotation"


def test_an_unsupported_annotation_is_refused_at_its_line_naming_the_type():
    error = refusal('''\
        from datetime import datetime

        def schedule(title: str,
                     when: datetime):
            """Schedule a meeting."""
        ''')

    assert str(error) == f"line 4: unsupported annotation 'datetime' for parameter 'when'; {SUPPORTED}"


@pytest.mark.parametrize(
    "annotation, named",
    [
        ("list[datetime]", "datetime"),
        ("Callable", "Callable"),
        ("typing.Callable[[int], int]", "typing.Callable[[int], int]"),
        ("'MyModel'", "MyModel"),
        ("set[int]", "set[int]"),
        ("str[int]", "str[int]"),
        ("list[int, str]", "list[int, str]"),
        ("None", "None"),
        ("Optional[None]", "Optional[None]"),
        ("'list[int'", "'list[int'"),
    ],
)
def test_other_annotations_are_refused_naming_the_part_at_fault(annotation, named):
    error = refusal(f'''\
        import typing

        def tool(value: {annotation}):
            """A tool."""
        ''')

    assert str(error) == f"line 3: unsupported annotation '{named}' for parameter 'value'; {SUPPORTED}"


def test_a_string_annotation_that_is_unsupported_is_refused_at_the_strings_line():
    error = refusal('''\
        def tool(a: int,
                 b: "dict[str, list[Decimal]]"):
            """A tool."""
        ''')

    assert str(error) == f"line 2: unsupported annotation 'Decimal' for parameter 'b'; {SUPPORTED}"


def test_a_tuple_is_refused_because_the_tool_would_receive_a_list():
    error = refusal('''\
        def tool(point: tuple[int, int]):
            """A tool."""
        ''')

    assert error.line == 1
    assert "tuple is not supported for parameter 'point'" in error.reason
    assert "annotate it as list[...]" in error.reason


def test_a_dict_with_keys_other_than_str_is_refused():
    error = refusal('''\
        def tool(counts: dict[int, str]):
            """A tool."""
        ''')

    assert str(error) == "line 1: the keys of dict for parameter 'counts' must be str: JSON object keys are strings"


def test_literal_none_is_refused_with_the_spelling_to_use():
    error = refusal('''\
        from typing import Literal

        def tool(mode: Literal["a", None]):
            """A tool."""
        ''')

    assert error.line == 3
    assert "write Optional[Literal[...]]" in error.reason


def test_an_annotation_nested_too_deeply_is_refused():
    error = refusal(f'''\
        def tool(value: {"list[" * 12}int{"]" * 12}):
            """A tool."""
        ''')

    assert str(error) == "line 1: the annotation of parameter 'value' is nested more than 10 levels deep"


def test_source_without_a_function_is_refused_and_a_lambda_is_no_function():
    error = refusal('''\
        greet = lambda name: "hi " + name
        ''')

    assert error.line is None
    assert str(error) == (
        "the source defines no top-level function: write the tool as 'def name(...):' "
        "(when the source defines several top-level functions, the tool is the last one defined)"
    )


def test_an_async_tool_is_refused():
    error = refusal('''\
        import asyncio

        async def fetch(url: str):
            """Fetch a page."""
        ''')

    assert error.line == 3
    assert error.reason.startswith("async functions are not supported")
    assert "the tool is the last one defined" in error.reason


@pytest.mark.parametrize(
    "signature, line, reason",
    [
        ("def tool(a: int,\n         *rest: int):", 2,
         "*rest is not supported: the model passes named arguments, so name each parameter"),
        ("def tool(a: int, **options: str):", 1,
         "**options is not supported: the model needs each parameter named and typed"),
        ("def tool(a: int, /, b: int):", 1,
         "parameter 'a' is positional-only (before '/'): the tool is called with keyword arguments"),
        ("def tool(a: int,\n         request_heartbeat: bool = False):", 2,
         "parameter 'request_heartbeat' is reserved: the agent loop adds it to every tool"),
    ],
)
def test_parameters_the_model_cannot_fill_are_refused(signature, line, reason):
    error = refusal(signature + '\n    """A tool."""\n')

    assert (error.line, error.reason) == (line, reason)


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_a_built_in_tools_name_is_refused(name):
    error = refusal(f'''\
        def {name}(text: str):
            """Shadow a built-in."""
        ''')

    assert str(error) == f"line 1: {name} is a built-in tool's name; choose another"


@pytest.mark.parametrize("name", ["a" * 65, "grüße"])
def test_a_name_openai_does_not_accept_is_refused(name):
    error = refusal(f'''\
        def {name}(text: str):
            """A tool."""
        ''')

    assert error.line == 1
    assert error.reason.endswith("must be 1 to 64 ASCII letters, digits, '_' or '-'")


def test_a_name_of_64_characters_is_accepted():
    assert tool_parse(f'def {"a" * 64}():\n    """A tool."""\n').name == "a" * 64


def test_a_docstring_describing_a_non_parameter_is_refused_at_that_entry():
    error = refusal('''\
        def greet(name: str):
            """Greet someone.

            Args:
                name: Who.
                nmae: A typo.
            """
        ''')

    assert str(error) == "line 6: the docstring describes 'nmae', which is not a parameter"


def test_a_rest_docstring_describing_a_non_parameter_is_refused_at_that_entry():
    error = refusal('''\
        def greet(name: str):
            """Greet someone.

            :param str who: Who.
            """
        ''')

    assert str(error) == "line 4: the docstring describes 'who', which is not a parameter"


def test_a_tool_without_docstring_is_refused_at_its_def():
    error = refusal('''\
        import os

        @staticmethod
        def greet(name: str):
            return "hi " + name
        ''')

    assert str(error) == "line 4: the function needs a docstring: the model reads it to know when to call the tool"


def test_a_docstring_with_sections_but_no_summary_is_refused():
    error = refusal('''\
        def greet(name: str):
            """Args:
                name: Who.
            """
        ''')

    assert error.line == 2
    assert error.reason.startswith("the docstring needs a summary of what the tool does")


def test_a_google_args_section_the_parser_cannot_read_is_refused_instead_of_ending_in_the_description():
    error = refusal('''\
        def greet(name: str):
            """Greet someone.

            Args:
                name the person
            """
        ''')

    assert error.line == 2
    assert error.reason.startswith("the docstring's Args section cannot be read (Expected a colon")


def test_source_over_the_limit_is_refused_naming_the_limit():
    source = 'def tool():\n    """A tool."""\n' + "#" * MAX_SOURCE_CHARS

    with pytest.raises(ToolSourceError) as caught:
        tool_parse(source)

    assert str(caught.value) == f"the source is {len(source):,} characters long; the limit is 100,000"


def test_source_at_the_limit_is_read():
    source = 'def tool():\n    """A tool."""\n'
    source += "#" * (MAX_SOURCE_CHARS - len(source))

    assert tool_parse(source).name == "tool"


def test_more_than_64_parameters_are_refused():
    parameters_65 = ", ".join(f"p{number}: int" for number in range(65))

    error = refusal(f'def tool({parameters_65}):\n    """A tool."""\n')

    assert str(error) == "line 1: the tool has 65 parameters; the limit is 64"


def test_a_union_deep_enough_to_exhaust_recursion_is_refused_not_raised():
    error = refusal(f'def tool(x: {"int|" * 20_000}int):\n    """A tool."""\n')

    assert error.reason == "the source is nested too deeply to read"


def test_null_bytes_are_refused_and_escaped_ones_kept_out_of_the_schema():
    assert "null bytes" in refusal("def tool():\n    'A tool.'\x00\n").reason

    parsed = tool_parse('def tool(sep: str = "\\x00"):\n    """A tool\\x00."""\n')

    assert parsed.description == "A tool\ufffd."
    assert parsed.parameters["properties"] == {"sep": {"type": "string"}}


def test_the_error_reads_line_then_reason():
    assert str(ToolSourceError("bad", 7)) == "line 7: bad"
    assert str(ToolSourceError("bad")) == "bad"
    assert isinstance(ToolSourceError("bad"), ValueError)


# the schema the model sees

PARSED = ParsedTool(
    name="area",
    description="Area of a circle.",
    parameters={"type": "object", "properties": {"radius": {"type": "number"}}, "required": ["radius"]},
    takes_agent_state=False,
    returns="float",
)


def test_tool_schema_adds_request_heartbeat_like_the_built_in_tools():
    schema = tool_schema(PARSED)

    assert schema == {
        "type": "function",
        "function": {
            "name": "area",
            "description": "Area of a circle.",
            "parameters": {
                "type": "object",
                "properties": {"radius": {"type": "number"}, "request_heartbeat": HEARTBEAT_PROPERTY},
                "required": ["radius", "request_heartbeat"],
            },
        },
    }
    assert PARSED.parameters["required"] == ["radius"]  # the parsed tool is not changed
    assert "request_heartbeat" not in PARSED.parameters["properties"]


def test_tool_schema_without_heartbeat_is_the_parsed_parameters():
    schema = tool_schema(PARSED, heartbeat=False)

    assert schema == {
        "type": "function",
        "function": {"name": "area", "description": "Area of a circle.", "parameters": PARSED.parameters},
    }
    schema["function"]["parameters"]["properties"]["radius"]["type"] = "string"
    assert PARSED.parameters["properties"]["radius"] == {"type": "number"}


def test_a_typical_tools_schema_is_valid_json_schema_that_checks_arguments():
    parsed = tool_parse(dedent('''\
        from typing import Literal, Optional

        def book_table(agent_state, restaurant: str, guests: int, when: str,
                       seating: Literal["inside", "terrace"] = "inside", notes: Optional[list[str]] = None,
                       extras: dict[str, int | str] | None = None) -> str:
            """Book a table at a restaurant.

            Args:
                restaurant: The restaurant's name.
                guests: How many people.
                when: Date and time, as YYYY-MM-DD HH:MM.
                seating: Where to sit.
                notes: Wishes to pass on.
                extras: Anything else the restaurant asks for.
            """
        '''))
    parameters_schema = tool_schema(parsed)["function"]["parameters"]

    jsonschema.Draft202012Validator.check_schema(parameters_schema)
    validator = jsonschema.Draft202012Validator(parameters_schema)
    good = {"restaurant": "Chez Ada", "guests": 2, "when": "2025-06-01 19:30", "seating": "terrace",
            "notes": ["window"], "extras": {"highchair": 1}, "request_heartbeat": False}
    assert list(validator.iter_errors(good)) == []
    bad = {"restaurant": "Chez Ada", "guests": "two", "when": "soon", "seating": "roof", "request_heartbeat": True}
    assert sorted(error.json_path for error in validator.iter_errors(bad)) == ["$.guests", "$.seating"]
    assert not validator.is_valid({"restaurant": "Chez Ada", "guests": 2, "when": "now"})  # no request_heartbeat
