"""A custom tool's JSON schema, read from its Python source without running it.

A tool is written as one top-level function; other imports and helper functions may surround it.
When the source defines several top-level functions, the tool is the LAST one defined (Letta's
rule too), so helpers go above it. The source is only parsed with `ast`, never executed: saving a
tool must not run the user's code. Bad source is refused at save time with the line and the reason,
because a schema the model misreads fails later, quietly, in a conversation.

How annotations map to JSON schema:
- str, int, float, bool -> string, integer, number, boolean; Any -> {} (any JSON value).
- list, List, list[T] -> array (with items); dict, Dict, dict[str, T] -> object (additionalProperties).
- Literal["a", "b"] -> {"type": "string", "enum": [...]} (integers and booleans too).
- A union (Union[A, B], A | B) -> anyOf. None in a parameter's own union is dropped: the model
  leaves out what it has nothing for. Deeper down (list[int | None]) it becomes {"type": "null"}.
- tuple is refused: JSON has no tuples, the tool would receive a list, so the annotation would lie.
- Annotations may be written as `X`, `typing.X` or a string ("list[int]").

A parameter is required exactly when it has no default, whatever its annotation (Optional[T]
included): one simple rule the author can see in the signature.
"""

import ast
import copy
import math
import re
from dataclasses import dataclass

from docstring_parser import DocstringStyle, ParseError, parse

from agents.engine.tools import HEARTBEAT_PROPERTY, TOOL_NAMES
from memory.text import clean, clean_json

MAX_SOURCE_CHARS = 100_000
MAX_PARAMETERS = 64
MAX_ANNOTATION_DEPTH = 10  # list[dict[str, list[int]]] is 4: deeper is a mistake, not a schema
MAX_SHOWN_CHARS = 80  # of a name or an annotation quoted in an error
AGENT_STATE = "agent_state"  # Letta's convention: the runner passes the agent's state, the model never sees it
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # OpenAI's rule for function names
SUPPORTED = "use str, int, float, bool, list, dict, Literal, Optional or a union of them"
LAST_FUNCTION_RULE = "when the source defines several top-level functions, the tool is the last one defined"

SCALARS = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
ARRAYS = {"list", "List"}
OBJECTS = {"dict", "Dict"}
TUPLES = {"tuple", "Tuple"}
# the names that may also be written typing.X; typing.str does not exist, so it is not accepted
TYPING_NAMES = {"List", "Dict", "Tuple", "Optional", "Union", "Literal", "Any"}
TYPING_MODULES = {"typing", "typing_extensions"}
GOOGLE_PARAMETER_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Params)\s*:\s*$", re.MULTILINE)
LEADING_SECTION = re.compile(r"(Args|Arguments|Parameters|Params|Returns|Raises|Yields|Examples?)\s*:?\s*$")
NOT_PARAMETERS = {"attribute", "attr"}  # docstring_parser lists an Attributes section among params

_NO_DEFAULT = object()


class ToolSourceError(ValueError):
    """Why a tool's source was refused, and on which line of it (1-based) when one line is to blame."""

    def __init__(self, reason: str, line: int | None = None):
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}" if line is not None else reason)


@dataclass(frozen=True)
class ParsedTool:
    name: str
    description: str  # the docstring's summary and long description, without its Args/Returns sections
    parameters: dict  # {"type": "object", "properties": {...}, "required": [...]}, without request_heartbeat
    takes_agent_state: bool  # the function has an `agent_state` parameter, which is not in the schema
    returns: str | None  # the return annotation as written, for display


def tool_parse(source: str) -> ParsedTool:
    """Reads a tool's source: the last top-level function's name, docstring and typed parameters.

    Raises ToolSourceError for source that cannot become a schema the model reads correctly.
    """
    if len(source) > MAX_SOURCE_CHARS:
        raise ToolSourceError(f"the source is {len(source):,} characters long; the limit is {MAX_SOURCE_CHARS:,}")
    try:
        return _parse(source)
    except RecursionError:
        # ast and our own walk both recurse: absurd nesting must be a refusal, not a crash
        raise ToolSourceError("the source is nested too deeply to read") from None


def tool_schema(parsed: ParsedTool, *, heartbeat: bool = True) -> dict:
    """The OpenAI function schema the model sees; with heartbeat, the request_heartbeat the built-in tools have."""
    parameters = copy.deepcopy(parsed.parameters)  # callers may change the result; parsed must not change
    if heartbeat:
        parameters["properties"]["request_heartbeat"] = dict(HEARTBEAT_PROPERTY)
        parameters["required"] = [*parameters["required"], "request_heartbeat"]
    return {
        "type": "function",
        "function": {"name": parsed.name, "description": parsed.description, "parameters": parameters},
    }


def _parse(source: str) -> ParsedTool:
    try:
        tree = ast.parse(source, filename="<tool>")
    except SyntaxError as error:
        raise ToolSourceError(error.msg, error.lineno) from None
    except (ValueError, MemoryError) as error:  # null bytes, integers too long to convert, ...
        raise ToolSourceError(f"the source cannot be read: {error}") from None

    function = _tool_function(tree)
    _check_name(function)
    names = _TypingNames.of(tree)
    properties, required, takes_agent_state = _parameters(function, names)
    description, descriptions = _docstring(function, parameter_names=_all_parameter_names(function))
    for name, described in descriptions.items():
        if name in properties and described:
            # description before default, as a reader of the schema would look for them
            properties[name] = _with_description(properties[name], described)
    returns = ast.get_source_segment(source, function.returns) if function.returns else None
    return ParsedTool(
        name=function.name,
        description=description,
        parameters={"type": "object", "properties": properties, "required": required},
        takes_agent_state=takes_agent_state,
        returns=returns,
    )


def _tool_function(tree: ast.Module) -> ast.FunctionDef:
    functions = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not functions:
        raise ToolSourceError(
            f"the source defines no top-level function: write the tool as 'def name(...):' ({LAST_FUNCTION_RULE})"
        )
    function = functions[-1]
    if isinstance(function, ast.AsyncFunctionDef):
        raise ToolSourceError(
            f"async functions are not supported: write '{_shorten(function.name)}' with a plain 'def' "
            f"({LAST_FUNCTION_RULE})",
            function.lineno,
        )
    return function


def _check_name(function: ast.FunctionDef) -> None:
    name = function.name
    if not TOOL_NAME.fullmatch(name):
        # Python allows longer and non-ASCII identifiers; OpenAI does not
        raise ToolSourceError(
            f"the tool's name '{_shorten(name)}' must be 1 to 64 ASCII letters, digits, '_' or '-'",
            function.lineno,
        )
    if name in TOOL_NAMES:
        raise ToolSourceError(f"{name} is a built-in tool's name; choose another", function.lineno)


def _all_parameter_names(function: ast.FunctionDef) -> set[str]:
    arguments = function.args
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
    return {argument.arg for argument in every if argument is not None}


def _parameters(function: ast.FunctionDef, names: "_TypingNames") -> tuple[dict, list[str], bool]:
    arguments = function.args
    count = len(_all_parameter_names(function))
    if count > MAX_PARAMETERS:
        raise ToolSourceError(f"the tool has {count} parameters; the limit is {MAX_PARAMETERS}", function.lineno)
    # the model sends one JSON object, so the tool is called with keyword arguments only
    if arguments.vararg:
        raise ToolSourceError(
            f"*{arguments.vararg.arg} is not supported: the model passes named arguments, so name each parameter",
            arguments.vararg.lineno,
        )
    if arguments.kwarg:
        raise ToolSourceError(
            f"**{arguments.kwarg.arg} is not supported: the model needs each parameter named and typed",
            arguments.kwarg.lineno,
        )
    if arguments.posonlyargs:
        first = arguments.posonlyargs[0]
        raise ToolSourceError(
            f"parameter '{first.arg}' is positional-only (before '/'): the tool is called with keyword arguments",
            first.lineno,
        )

    positional_defaults = [None] * (len(arguments.args) - len(arguments.defaults)) + list(arguments.defaults)
    pairs = [*zip(arguments.args, positional_defaults), *zip(arguments.kwonlyargs, arguments.kw_defaults)]
    properties, required, takes_agent_state = {}, [], False
    for argument, default in pairs:
        name = argument.arg
        if name == AGENT_STATE:
            takes_agent_state = True
            continue
        if name == "request_heartbeat":
            raise ToolSourceError(
                "parameter 'request_heartbeat' is reserved: the agent loop adds it to every tool", argument.lineno
            )
        if argument.annotation is None:
            raise ToolSourceError(f"parameter '{name}' has no type annotation", argument.lineno)
        schema = _Annotation(name, names).schema(argument.annotation)
        if default is None:
            required.append(name)
        else:
            value = _literal(default)
            if value is not _NO_DEFAULT:
                schema["default"] = value
        properties[name] = schema
    return properties, required, takes_agent_state


def _literal(node: ast.expr):
    """The default's value when it is a JSON literal; a call or a name cannot be shown to the model."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NO_DEFAULT
    # a NUL or a lone surrogate cannot be stored in PostgreSQL's JSON; the function keeps its default anyway
    return value if _is_json(value) and clean_json(value) == value else _NO_DEFAULT


def _is_json(value) -> bool:
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_json(item) for key, item in value.items())
    return False  # tuples, sets, bytes, complex: json would change or refuse them


def _with_description(schema: dict, description: str) -> dict:
    default = schema.pop("default", _NO_DEFAULT)
    schema["description"] = description
    if default is not _NO_DEFAULT:
        schema["default"] = default
    return schema


@dataclass(frozen=True)
class _TypingNames:
    """How the source refers to typing: `import typing as t`, `from typing import List as L`."""

    modules: frozenset[str]
    aliases: dict

    @classmethod
    def of(cls, tree: ast.Module) -> "_TypingNames":
        modules, aliases = set(TYPING_MODULES), {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.asname for alias in node.names if alias.name in TYPING_MODULES and alias.asname)
            elif isinstance(node, ast.ImportFrom) and node.module in TYPING_MODULES:
                aliases.update({alias.asname: alias.name for alias in node.names if alias.asname})
        return cls(frozenset(modules), aliases)

    def canonical(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.modules:
            return node.attr if node.attr in TYPING_NAMES else None
        return None


class _Annotation:
    """Turns one parameter's annotation into JSON schema, or refuses it with the line to fix."""

    def __init__(self, parameter: str, names: _TypingNames):
        self.parameter = parameter
        self.names = names

    def schema(self, node: ast.expr) -> dict:
        schema = self._schema(node, depth=0, top=True)
        return dict(schema)  # a fresh dict: a default or a description is added to it

    def _schema(self, node: ast.expr, depth: int, top: bool) -> dict:
        if depth > MAX_ANNOTATION_DEPTH:
            raise ToolSourceError(
                f"the annotation of parameter '{self.parameter}' is nested more than "
                f"{MAX_ANNOTATION_DEPTH} levels deep",
                node.lineno,
            )
        node = self._unquote(node)
        members = self._union_members(node)
        if members is not None:
            return self._union(node, members, depth, top)
        if isinstance(node, ast.Constant) and node.value is None and not top:
            return {"type": "null"}

        if isinstance(node, ast.Subscript):
            generic, arguments = self.names.canonical(node.value), _subscript_items(node)
        else:
            generic, arguments = self.names.canonical(node), None

        if generic in TUPLES:
            raise ToolSourceError(
                f"tuple is not supported for parameter '{self.parameter}': JSON has no tuples and the tool "
                "would receive a list; annotate it as list[...]",
                node.lineno,
            )
        if arguments is None:
            if generic in SCALARS:
                return {"type": SCALARS[generic]}
            if generic in ARRAYS:
                return {"type": "array"}
            if generic in OBJECTS:
                return {"type": "object"}
            if generic == "Any":
                return {}
        elif generic == "Literal":
            return self._literal(node, arguments)
        elif generic in ARRAYS and len(arguments) == 1:
            return {"type": "array", "items": self._schema(arguments[0], depth + 1, top=False)}
        elif generic in OBJECTS and len(arguments) == 2:
            key, value = arguments
            if self.names.canonical(self._unquote(key)) != "str":
                raise ToolSourceError(
                    f"the keys of dict for parameter '{self.parameter}' must be str: JSON object keys are strings",
                    node.lineno,
                )
            return {"type": "object", "additionalProperties": self._schema(value, depth + 1, top=False)}
        raise self._unsupported(node)

    def _union_members(self, node: ast.expr) -> list[ast.expr] | None:
        """The alternatives of Union[...], Optional[...] or A | B, flattened; None when it is no union."""
        if not self._is_union(node):
            return None
        members, pending = [], [node]
        while pending:  # iterative: `int | str | ...` may be thousands of levels deep in the tree
            current = self._unquote(pending.pop())
            if isinstance(current, ast.BinOp) and isinstance(current.op, ast.BitOr):
                pending += [current.right, current.left]
            elif isinstance(current, ast.Subscript) and self.names.canonical(current.value) == "Union":
                pending += reversed(_subscript_items(current))
            elif isinstance(current, ast.Subscript) and self.names.canonical(current.value) == "Optional":
                items = _subscript_items(current)
                if len(items) != 1:
                    raise self._unsupported(current)
                pending += [ast.Constant(value=None, lineno=current.lineno), items[0]]
            else:
                members.append(current)
        return members

    def _is_union(self, node: ast.expr) -> bool:
        if isinstance(node, ast.BinOp):
            return isinstance(node.op, ast.BitOr)
        return isinstance(node, ast.Subscript) and self.names.canonical(node.value) in {"Union", "Optional"}

    def _union(self, node: ast.expr, members: list[ast.expr], depth: int, top: bool) -> dict:
        if top:  # the parameter may be left out instead, so None need not be in its schema
            members = [member for member in members if not _is_none(member)]
        schemas = []
        for member in members:
            schema = self._schema(member, depth + 1, top=False)
            if schema == {}:
                return {}  # Any absorbs the rest
            if schema not in schemas:
                schemas.append(schema)
        if not schemas:
            raise self._unsupported(node)
        return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}

    def _literal(self, node: ast.Subscript, arguments: list[ast.expr]) -> dict:
        values, types = [], []
        for argument in arguments:
            try:
                value = ast.literal_eval(argument)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                value = None
            if type(value) not in (str, int, bool):
                raise ToolSourceError(
                    f"Literal values for parameter '{self.parameter}' must be strings, integers or booleans "
                    "(for None, write Optional[Literal[...]])",
                    node.lineno,
                )
            if isinstance(value, str) and clean(value) != value:
                raise ToolSourceError(
                    f"a Literal value for parameter '{self.parameter}' holds a NUL or a lone surrogate, "
                    "which cannot be stored as JSON",
                    node.lineno,
                )
            kind = {str: "string", int: "integer", bool: "boolean"}[type(value)]
            if (kind, value) not in zip(types, values):  # True == 1 in Python, not in JSON
                values.append(value)
                types.append(kind)
        if len(set(types)) == 1:
            return {"type": types[0], "enum": values}
        return {"enum": values}

    def _unquote(self, node: ast.expr) -> ast.expr:
        """A string annotation ("list[int]") parsed like the rest, its nodes on the string's line."""
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            return node
        try:
            parsed = ast.parse(node.value.strip(), mode="eval").body
        except (SyntaxError, ValueError, MemoryError):
            raise self._unsupported(node) from None
        for child in ast.walk(parsed):
            if hasattr(child, "lineno"):
                child.lineno = child.end_lineno = node.lineno
        return parsed

    def _unsupported(self, node: ast.expr) -> ToolSourceError:
        return ToolSourceError(
            f"unsupported annotation '{_shorten(ast.unparse(node))}' for parameter '{self.parameter}'; {SUPPORTED}",
            node.lineno,
        )


def _subscript_items(node: ast.Subscript) -> list[ast.expr]:
    return list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _docstring(function: ast.FunctionDef, *, parameter_names: set[str]) -> tuple[str, dict[str, str]]:
    """The description the model reads, and each parameter's description, from any common docstring style."""
    text = ast.get_docstring(function, clean=True)
    if text:
        text = clean(text)  # "\x00" escapes: prose loses nothing, and PostgreSQL cannot store them
    if not text or not text.strip():
        raise ToolSourceError(
            "the function needs a docstring: the model reads it to know when to call the tool", function.lineno
        )
    line = function.body[0].lineno
    if LEADING_SECTION.match(text.strip().splitlines()[0]):
        raise ToolSourceError(
            "the docstring needs a summary of what the tool does before its sections: "
            "the model reads it to know when to call the tool",
            line,
        )
    try:
        parsed = parse(text)  # detects Google, NumPy, reST and Epydoc styles
    except ParseError as error:
        raise ToolSourceError(f"the docstring cannot be read: {error}", line) from None
    params = [param for param in parsed.params if param.args[0] not in NOT_PARAMETERS]
    if not params and (section := GOOGLE_PARAMETER_SECTION.search(text)):
        # a Google section the parser could not read falls back into the description, silently
        try:
            parse(text, DocstringStyle.GOOGLE)
        except ParseError as error:
            raise ToolSourceError(
                f"the docstring's {section.group(1)} section cannot be read ({error}); "
                "write each parameter as 'name (type): description' or 'name: description'",
                line,
            ) from None

    descriptions = {}
    for param in params:
        for name in (part.strip().lstrip("*") for part in param.arg_name.split(",")):
            if name not in parameter_names:
                raise ToolSourceError(
                    f"the docstring describes '{_shorten(name)}', which is not a parameter",
                    _docstring_line(function, name),
                )
            descriptions.setdefault(name, (param.description or "").strip())
    description = (parsed.description or "").strip()
    if not description:
        raise ToolSourceError(
            "the docstring needs a summary of what the tool does: the model reads it to know when to call the tool",
            line,
        )
    return description, descriptions


def _docstring_line(function: ast.FunctionDef, name: str) -> int:
    """The line of the docstring entry that describes `name` (the docstring's first line if not found)."""
    start = function.body[0].lineno
    entry = re.compile(rf"^(?:[\w*]+\s*,\s*)*\*{{0,2}}{re.escape(name)}\b|^:\w+(?:\s+[^:]+)?\s+{re.escape(name)}:")
    raw = function.body[0].value.value
    for offset, text in enumerate(raw.split("\n")):
        if offset > 0 and entry.match(text.strip()):
            return start + offset
    return start


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"
