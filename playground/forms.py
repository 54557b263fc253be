"""The pages' forms. Text people type is refused, not cleaned, when PostgreSQL could not store it:
Django's CharField refuses NUL characters ("Null characters are not allowed."), and form data
cannot carry a lone surrogate (Django decodes it with errors="replace"). Invalid forms come back with
their errors in place (422); a parameter no form shows (an id, a cursor) answers 400."""

from datetime import date, datetime, time, timedelta, timezone

from django import forms
from django.conf import settings
from django.core.exceptions import BadRequest

from memory.models import Block, MemoryTemplate
from memory.selectors import memory_templates


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
