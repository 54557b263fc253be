from django import forms
from django.conf import settings

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
    text = forms.CharField(max_length=20_000, strip=True)


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
