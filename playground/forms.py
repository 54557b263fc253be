"""The pages' forms. Text people type is refused, not cleaned, when PostgreSQL could not store it:
Django's CharField refuses NUL characters ("Null characters are not allowed."), and form data
cannot carry a lone surrogate (Django decodes it with errors="replace"). Invalid forms come back with
their errors in place (422); a parameter no form shows (an id, a cursor) answers 400."""

import json
import re
from datetime import date, datetime, time, timedelta, timezone

from django import forms
from django.conf import settings
from django.core.exceptions import BadRequest

from agents.agent_file import LABEL
from agents.engine.rules import KINDS as RULE_KINDS
from agents.models import Agent, Group
from agents.tools.schema import MAX_SOURCE_CHARS, ToolSourceError, tool_parse
from memory.models import Block, MemoryTemplate
from memory.selectors import memory_templates
from playground.api.views.base import not_text


def template_choices(kind: str, owner) -> list[tuple[str, str]]:
    return [(str(t.pk), t.name) for t in memory_templates(kind=kind, owner=owner)]


class AgentCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    persona = forms.ChoiceField()
    human = forms.ChoiceField()
    model = forms.CharField(max_length=200, required=False, help_text="blank: the server's LLM_MODEL")
    context_window = forms.IntegerField(min_value=1024, max_value=2_000_000, initial=settings.AGENT_CONTEXT_WINDOW)

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.fields["persona"].choices = template_choices("persona", owner)
        self.fields["human"].choices = template_choices("human", owner)

    def template_text(self, field: str) -> str:
        return MemoryTemplate.objects.get(pk=self.cleaned_data[field]).text


class GroupForm(forms.Form):
    """A group of the user's agents (agents/groups.py), and optionally a new block they all share."""

    kind = forms.ChoiceField(choices=Group.Kind.choices, initial=Group.Kind.ROUND_ROBIN)
    description = forms.CharField(max_length=2000, required=False)
    members = forms.ModelMultipleChoiceField(queryset=Agent.objects.none(), widget=forms.CheckboxSelectMultiple)
    manager = forms.ModelChoiceField(queryset=Agent.objects.none(), required=False,
                                     help_text="The supervisor; for a sleep-time group, the primary agent.")
    max_turns = forms.IntegerField(min_value=1, required=False, help_text="Round robin: answers per message.")
    sleeptime_frequency = forms.IntegerField(min_value=1, required=False, help_text="Sleep-time: every N turns.")
    sleeptime_quiet_seconds = forms.FloatField(min_value=1, required=False, help_text="Sleep-time: after this quiet.")
    block_label = forms.RegexField(LABEL, max_length=100, required=False, help_text="A new block they all share.")
    block_value = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), strip=False)

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = self.fields["manager"].queryset = Agent.objects.filter(owner=owner).order_by("name")


class MessageForm(forms.Form):
    text = forms.CharField(strip=True)

    def clean_text(self) -> str:
        # the limit in words, not a maxlength attribute on the textarea: a browser cuts a paste short silently
        text, limit = self.cleaned_data["text"], settings.MESSAGE_MAX_CHARS
        if len(text) > limit:
            raise forms.ValidationError(f"The message has {len(text):,} characters; the limit is {limit:,}.")
        return text


class BlockForm(forms.ModelForm):
    class Meta:
        model = Block
        fields = ["label", "description", "value", "limit", "read_only"]
        widgets = {"description": forms.TextInput(), "value": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args, agent=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.agent = agent

    def clean_label(self):
        label = self.cleaned_data["label"].strip()
        if not label.replace("_", "").replace("-", "").isalnum():
            raise forms.ValidationError("Use letters, digits, - and _ only.")
        taken = Block.objects.filter(blockattachment__agent=self.agent, label=label)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if self.agent is not None and taken.exists():
            raise forms.ValidationError(f"This agent already has a block labelled {label!r}.")
        return label

    def clean(self):
        cleaned = super().clean()
        value, limit = cleaned.get("value") or "", cleaned.get("limit")
        if limit is not None and len(value) > limit:
            self.add_error("value", f"{len(value)} characters, over the limit of {limit}.")
        return cleaned


class PassageForm(forms.Form):
    text = forms.CharField(max_length=50_000, widget=forms.Textarea(attrs={"rows": 3}))


class RecallSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=500)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """From the start of `start` to the end of `end` (whole days, UTC); None where open."""
        start, end = self.cleaned_data["start"], self.cleaned_data["end"]
        return (datetime.combine(start, time.min, tzinfo=timezone.utc) if start else None,
                # the day after `end`, unless `end` is the last day a date has (9999-12-31)
                datetime.combine(end + timedelta(days=1), time.min, tzinfo=timezone.utc) if end and end < date.max
                else None)


class ArchivalSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=500)


class SourceForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=10_000)


MAX_ID = 2**63 - 1  # bigint: a larger number would reach PostgreSQL as an out-of-range error


def id_param(value: str | None, name: str) -> int:
    """A row id that a page sends itself (a select's value, a cursor): BadRequest (400) for anything
    else, since nobody typed it."""
    try:
        return forms.IntegerField(min_value=1, max_value=MAX_ID).clean(value)
    except forms.ValidationError:
        raise BadRequest(f"{name}: not an id") from None


# --- tools, tool rules and agent settings ----------------------------------------------------------

# a name as pip spells it, with an optional version specifier; never a path or a URL (pip would read
# files of the server)
REQUIREMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}(\[[A-Za-z0-9._,-]+\])?"
                         r"\s*((==|>=|<=|~=|!=|>|<)\s*[A-Za-z0-9.*+!_-]{1,60})?")


EXAMPLE_TOOL = '''def roll_dice(sides: int = 6, times: int = 1) -> list[int]:
    """Roll dice and return what they show.

    Args:
        sides: how many sides each die has
        times: how many dice to roll
    """
    import random

    return [random.randint(1, sides) for _ in range(times)]
'''


class ToolForm(forms.Form):
    source_code = forms.CharField(strip=False, max_length=MAX_SOURCE_CHARS, initial=EXAMPLE_TOOL,
                                  widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false"}))
    description = forms.CharField(required=False, max_length=10_000, help_text="blank: the docstring's summary")
    tags = forms.CharField(required=False, max_length=2_000, help_text="separated by commas")
    return_char_limit = forms.IntegerField(min_value=1, max_value=1_000_000, initial=6000)
    pip_requirements = forms.CharField(required=False, max_length=5_000, widget=forms.Textarea(attrs={"rows": 3}),
                                       help_text="one a line, as pip spells them: requests, numpy>=1.26")

    @classmethod
    def of(cls, tool) -> "ToolForm":
        return cls(initial={"source_code": tool.source_code, "tags": ", ".join(tool.tags),
                            "return_char_limit": tool.return_char_limit, "pip_requirements": "\n".join(tool.pip_requirements),
                            # an override only when it differs from the docstring's (tool_update sets it anew)
                            "description": "" if tool.description == _docstring_summary(tool.source_code) else tool.description})

    def clean_tags(self) -> list[str]:
        tags = [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]
        if any(len(tag) > 100 for tag in tags):
            raise forms.ValidationError("A tag has at most 100 characters.")
        return list(dict.fromkeys(tags))

    def clean_pip_requirements(self) -> list[str]:
        lines = [" ".join(line.split()) for line in self.cleaned_data["pip_requirements"].splitlines() if line.strip()]
        for line in lines:
            if not REQUIREMENT.fullmatch(line):
                raise forms.ValidationError(f"{line!r} is not a requirement pip reads by name: name, name==1.2 or name>=1.2.")
        if len(lines) > 50:
            raise forms.ValidationError("At most 50 requirements.")
        return lines

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {"source_code": data["source_code"], "description": data["description"] or None, "tags": data["tags"],
                "return_char_limit": data["return_char_limit"], "pip_requirements": data["pip_requirements"]}


def _signature_order(source: str) -> list[str]:
    try:
        return list(tool_parse(source).parameters["properties"])
    except ToolSourceError:
        return []


def _docstring_summary(source: str) -> str | None:
    try:
        return tool_parse(source).description
    except ToolSourceError:
        return None


class ToolRunForm(forms.Form):
    """One field per parameter of a tool's JSON schema; `arguments()` gives the call's arguments."""

    def __init__(self, *args, tool, agents, **kwargs):
        super().__init__(*args, **kwargs)
        parameters = tool.json_schema["function"].get("parameters") or {}
        required = set(parameters.get("required") or [])
        self.json_fields = set()
        properties = parameters.get("properties") or {}
        # in the signature's order: the stored schema (jsonb) keeps its keys in an order of its own
        order = {name: index for index, name in enumerate(_signature_order(tool.source_code))}
        for name in sorted(properties, key=lambda name: order.get(name, len(order))):
            if name != "request_heartbeat":
                self.fields[name] = self._field(name, properties[name], name in required)
        if tool.takes_agent_state:
            # named as the reserved parameter it fills, so that no parameter of the tool can take the name
            self.fields["agent_state"] = forms.ModelChoiceField(agents, label="agent (its state is passed as agent_state)")

    def _field(self, name: str, schema: dict, required: bool) -> forms.Field:
        help_text, initial = schema.get("description", ""), schema.get("default")
        kind = schema.get("type")
        if "enum" in schema:
            choices = [(json.dumps(v), str(v)) for v in schema["enum"]]
            field = forms.TypedChoiceField(choices=([("", "–")] if not required else []) + choices, coerce=json.loads,
                                           required=required, empty_value=None)
            initial = json.dumps(initial) if initial is not None else None
        elif kind == "string":
            field = forms.CharField(required=required, strip=False)
        elif kind == "integer":
            field = forms.IntegerField(required=required)
        elif kind == "number":
            field = forms.FloatField(required=required)
        elif kind == "boolean":
            field = forms.BooleanField(required=False)
        else:  # arrays, objects, unions, any value: JSON
            self.json_fields.add(name)
            field = forms.JSONField(required=required, widget=forms.Textarea(attrs={"rows": 3, "class": "json"}))
            field.expected = {"array": list, "object": dict}.get(kind)
        field.help_text, field.initial, field.schema_type = help_text, initial, kind or "JSON"
        return field

    def clean(self):
        cleaned = super().clean()
        for name in self.json_fields:
            expected = self.fields[name].expected
            if cleaned.get(name) is not None and expected and not isinstance(cleaned[name], expected):
                self.add_error(name, f"Enter a JSON {'array' if expected is list else 'object'}.")
        return cleaned

    def arguments(self) -> dict:
        """The parameters given; an optional one left empty is left out, so the function's default holds."""
        fields = {name: value for name, value in self.cleaned_data.items() if name != "agent_state"}
        return {name: value for name, value in fields.items()
                if self.fields[name].required or self.fields[name].schema_type == "boolean" or value not in (None, "")}


class ToolRuleForm(forms.Form):
    """A Letta tool rule: its kind, the tool it is about, and the kind's own fields."""

    type = forms.ChoiceField(choices=[(kind, kind.replace("_", " ")) for kind in RULE_KINDS], label="kind")
    tool_name = forms.ChoiceField(label="tool")
    children = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                         help_text="the tools allowed after it (constrain child tools), "
                                                   "or only right after it (parent last tool)")
    default_child = forms.ChoiceField(required=False, help_text="the next tool when no output matches")
    child_output_mapping = forms.CharField(required=False, max_length=5_000, widget=forms.Textarea(attrs={"rows": 2}),
                                           help_text="one a line: output: next tool")
    require_output_mapping = forms.BooleanField(required=False, help_text="an output no line names allows no tool")
    max_count_limit = forms.IntegerField(required=False, min_value=1, max_value=1000, help_text="calls a turn")

    # the fields each kind uses, beyond kind and tool (the page shows only those)
    KIND_FIELDS = {"constrain_child_tools": {"children"}, "parent_last_tool": {"children"},
                   "conditional": {"default_child", "child_output_mapping", "require_output_mapping"},
                   "max_count_per_step": {"max_count_limit"}}

    def __init__(self, *args, tool_names: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(name, name) for name in tool_names]
        self.fields["tool_name"].choices = self.fields["children"].choices = choices
        self.fields["default_child"].choices = [("", "–"), *choices]

    def kind_fields(self) -> list[tuple[forms.BoundField, str]]:
        """The kinds' own fields, each with the kinds that use it (the page hides the others' fields)."""
        return [(self[name], " ".join(kind for kind, names in self.KIND_FIELDS.items() if name in names))
                for name in ("children", "default_child", "child_output_mapping", "require_output_mapping", "max_count_limit")]

    def clean_child_output_mapping(self) -> dict[str, str]:
        mapping = {}
        for line in self.cleaned_data["child_output_mapping"].splitlines():
            if not line.strip():
                continue
            output, colon, child = line.rpartition(":")
            if not colon or child.strip() not in dict(self.fields["tool_name"].choices):
                raise forms.ValidationError(f"{line.strip()!r}: write 'output: tool', the tool one of the agent's.")
            mapping[output.strip()] = child.strip()
        return mapping

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("type")
        if kind in ("constrain_child_tools", "parent_last_tool") and not cleaned.get("children"):
            self.add_error("children", "Choose the tools this rule is about.")
        if kind == "conditional" and not (cleaned.get("default_child") or cleaned.get("child_output_mapping")):
            self.add_error("child_output_mapping", "Map an output to a tool, or choose a default next tool.")
        if kind == "max_count_per_step" and not cleaned.get("max_count_limit"):
            self.add_error("max_count_limit", "How many calls a turn?")
        return cleaned

    def rule(self) -> dict:
        data = self.cleaned_data
        rule = {"tool_name": data["tool_name"], "type": data["type"]}
        if data["type"] in ("constrain_child_tools", "parent_last_tool"):
            rule["children"] = data["children"]
        elif data["type"] == "conditional":
            rule.update(default_child=data["default_child"] or None, child_output_mapping=data["child_output_mapping"],
                        require_output_mapping=data["require_output_mapping"])
        elif data["type"] == "max_count_per_step":
            rule["max_count_limit"] = data["max_count_limit"]
        return rule


class AgentSettingsForm(forms.Form):
    """The settings agent_update checks together (ValueError with a sentence for those that cannot work)."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(max_length=10_000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    tags = forms.CharField(max_length=2_000, required=False, help_text="separated by commas; the agents page filters by them")
    model = forms.CharField(max_length=200, required=False, help_text="blank: the server's LLM_MODEL")
    context_window = forms.IntegerField(min_value=1024, max_value=2_000_000, help_text="tokens")
    temperature = forms.FloatField(min_value=0, max_value=2, widget=forms.NumberInput(attrs={"step": "0.05"}))
    system = forms.CharField(label="base instructions (system prompt)", max_length=100_000, strip=False,
                             widget=forms.Textarea(attrs={"rows": 10}))
    max_steps = forms.IntegerField(label="step limit", min_value=1, max_value=100, help_text="LLM calls a turn")
    warning_share = forms.FloatField(label="memory warning share", min_value=0, max_value=1,
                                     widget=forms.NumberInput(attrs={"step": "0.01"}),
                                     help_text="of the window: the agent is told to save what matters")
    evict_share = forms.FloatField(label="eviction share", min_value=0, max_value=1,
                                   widget=forms.NumberInput(attrs={"step": "0.01"}),
                                   help_text="of the message queue evicted into the summary at a flush")
    completion_reserve = forms.IntegerField(min_value=0, max_value=1_000_000, help_text="tokens kept for the reply")
    heartbeat_fallback = forms.BooleanField(required=False, help_text=(
        "a tool call other than send_message that forgot request_heartbeat gets one (for models that forget it)"))
    tool_protocol = forms.ChoiceField(choices=[("native", "native: the server's own tool calling"),
                                               ("json", "JSON in the prompt: for servers without tool calling")])
    catalog = None
    window_prefilled = False

    @classmethod
    def of(cls, agent, data=None, catalog=None) -> "AgentSettingsForm":
        """With a catalog (agents.llm.catalog), the model field offers its models, and a model whose
        server reports its window bounds the context window, or prefills it when the model changes."""
        form = cls(data, initial={**{name: getattr(agent, name) for name in cls.base_fields}, "tags": ", ".join(agent.tags)})
        form.catalog, form.window_prefilled = catalog, False
        if catalog is not None:
            form.fields["model"].widget.attrs["list"] = "model-choices"
            form.fields["model"].help_text = "a handle <server>/<model> from the list, or any model name; blank: LLM_MODEL"
        return form

    def clean(self):
        data = super().clean()
        chosen = self.catalog.find(data["model"]) if self.catalog is not None and data.get("model") else None
        window = chosen.context_window if chosen else None
        if window and "model" in self.changed_data and "context_window" not in self.changed_data:
            data["context_window"] = min(window, self.fields["context_window"].max_value)
            self.window_prefilled = True
        elif window and data.get("context_window") and data["context_window"] > window:
            self.add_error("context_window", f"{chosen.handle} has a window of {window} tokens, as its server reports")
        return data

    def clean_tags(self) -> list[str]:
        tags = [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]
        if any(len(tag) > 100 for tag in tags):
            raise forms.ValidationError("A tag has at most 100 characters.")
        return list(dict.fromkeys(tags))

    def changes(self) -> dict:
        changed = [*self.changed_data, *(["context_window"] if self.window_prefilled else [])]
        return {name: self.cleaned_data[name] for name in changed}


class ScheduleForm(forms.Form):
    """A wake-up made on the agent page (the Schedule tab): a message or a heartbeat at a time (in the
    server's TIME_ZONE), every N minutes (from that time, if one is given), or both."""

    kind = forms.ChoiceField(choices=[("message", "a message"), ("heartbeat", "a heartbeat")])
    text = forms.CharField(strip=False, widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="the message, or the reason the agent reads when it wakes")
    at = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                             help_text=f"in {settings.TIME_ZONE}")
    every_minutes = forms.IntegerField(required=False, min_value=1, max_value=60 * 24 * 366, label="every (minutes)")

    def clean(self):
        data = super().clean()
        if not self.errors and data.get("at") is None and not data.get("every_minutes"):
            raise forms.ValidationError("Say when: a time, an interval in minutes, or both.")
        return data

    def service_fields(self) -> dict:
        """schedule_create's arguments."""
        data = self.cleaned_data
        return {"kind": data["kind"], "text": data["text"], "at": data["at"],
                "every_seconds": data["every_minutes"] * 60 if data["every_minutes"] else None}


class ModelServerForm(forms.Form):
    """A model server added on the Model servers page; model_server_create checks it further."""

    name = forms.CharField(max_length=64, help_text="its models are offered as <name>/<model>")
    kind = forms.ChoiceField(choices=[("openai_compatible", "OpenAI-compatible"), ("vllm", "vLLM"), ("ollama", "Ollama"),
                                      ("llamacpp", "llama.cpp"), ("openai", "OpenAI")],
                             help_text="vLLM, Ollama and llama.cpp are asked for their context windows")
    base_url = forms.CharField(label="base URL", max_length=500, help_text="its OpenAI API, like http://localhost:8000/v1")
    api_key = forms.CharField(label="API key", max_length=2000, required=False,
                              widget=forms.PasswordInput(render_value=False),
                              help_text="kept encrypted; never shown again (local servers may need none)")


class ModelServerKeyForm(forms.Form):
    api_key = forms.CharField(label="new API key", max_length=2000, widget=forms.PasswordInput(
        render_value=False, attrs={"placeholder": "new key", "aria-label": "new API key"}))


AGENT_FILE_MAX_BYTES = 50 * 1024 * 1024  # as POST /v1/agents/import takes


class AgentFileForm(forms.Form):
    """An agent file (.af, Letta's JSON) to import on the Import page; cleaned to its parsed JSON.
    What it says is checked by agents.agent_file.agent_file_read."""

    file = forms.FileField(label="agent file (.af)", help_text="exported from this playground or from Letta")
    name = forms.CharField(max_length=200, required=False, help_text="a new name for the agent (else the file's)")
    strip_messages = forms.BooleanField(required=False, label="leave out the conversation")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > AGENT_FILE_MAX_BYTES:
            raise forms.ValidationError(f"An agent file may have {AGENT_FILE_MAX_BYTES // (1024 * 1024)} MB at most.")
        try:
            data = json.loads(upload.read())
        except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
            raise forms.ValidationError(f"This is not a JSON agent file ({error}).") from None
        except RecursionError:
            raise forms.ValidationError("This is not an agent file: its JSON is nested too deep.") from None
        if not isinstance(data, dict):
            raise forms.ValidationError("This is not an agent file: it holds no JSON object.")
        if not_text(data) is not None:  # PostgreSQL text cannot hold it; refused, not cleaned away
            raise forms.ValidationError("The file holds a NUL character or a lone surrogate, which text cannot hold.")
        return data

