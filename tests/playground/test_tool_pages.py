"""The Tools page, the tool editor, its schema preview and run form, and the agent page's Tools and
Settings tabs, with Django's test client."""

import pytest
from django.urls import reverse

from agents.models import Agent, Tool
from agents.services import agent_create, tool_create
from tests.factories import make_user

pytestmark = pytest.mark.django_db
XSS = "<script>alert('x')</script>"

ADD = '''def add_numbers(a: int, b: int = 2) -> int:
    """Add two numbers.

    Args:
        a: the first number
        b: the second number
    """
    print(f"adding {a} and {b}")
    return a + b
'''

KINDS = '''from typing import Literal


def describe(name: str, count: int, ratio: float, loud: bool, mood: Literal["calm", "angry"], items: list[str],
             extra: dict | None = None) -> str:
    """Describe something.

    Args:
        name: what to describe
    """
    text = f"{name} x{count} at {ratio}: {mood}, {len(items)} items"
    return text.upper() if loud else text
'''

FAILS = '''def fails(n: int) -> int:
    """Divide by nothing."""
    return n / 0
'''


@pytest.fixture
def user(db):
    return make_user()


@pytest.fixture
def owner(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def agent(user):
    return agent_create(owner=user, name="Sam", persona="I am Sam.", human="")


def tool_fields(source: str, **extra) -> dict:
    return {"source_code": source, "description": "", "tags": "", "return_char_limit": 6000, "pip_requirements": "", **extra}


def test_the_tools_page_lists_builtin_tools_with_their_schema_and_the_users_own(owner, user):
    tool_create(owner=user, source_code=ADD, description=XSS, tags=["maths"])
    tool_create(owner=make_user(), source_code=FAILS)  # someone else's
    body = owner.get(reverse("tools")).content.decode()
    assert "core_memory_append" in body
    assert '&quot;name&quot;: &quot;send_message&quot;' in body  # the built-in schema, shown as JSON
    assert "add_numbers" in body and "maths" in body and "fails" not in body
    assert XSS not in body and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body
    assert 'href="/tools/"' in owner.get("/").content.decode()  # in the top bar


def test_create_a_tool_from_source_then_see_its_page(owner, user):
    response = owner.post(reverse("tool-new"), tool_fields(ADD, tags="maths, demo", pip_requirements="requests\nnumpy>=1.26"),
                          HTTP_HX_REQUEST="true")
    tool = Tool.objects.get(owner=user, name="add_numbers")
    assert response.status_code == 200 and response["HX-Redirect"] == reverse("tool", args=[tool.pk])
    assert (tool.tags, tool.pip_requirements, tool.description) == (["maths", "demo"], ["requests", "numpy>=1.26"], "Add two numbers.")
    assert tool.json_schema["function"]["parameters"]["required"] == ["a", "request_heartbeat"]
    page = owner.get(reverse("tool", args=[tool.pk])).content.decode()
    assert "data-code-editor" in page and "the first number" in page  # the editor, and the schema preview
    assert 'type="number" name="a" required' in page and 'type="number" name="b" value="2"' in page  # the run form


def test_bad_source_comes_back_with_its_line_in_place(owner, user):
    bad = ADD.replace("def add_numbers(a: int, b: int = 2) -> int:", "def add_numbers(a, b: int = 2) -> int:")
    response = owner.post(reverse("tool-new"), tool_fields(bad), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 422
    assert "line 1: parameter &#x27;a&#x27; has no type annotation" in body
    assert 'data-error-line="1"' in body  # the preview marks the line in the editor
    assert "def add_numbers(a, b: int = 2)" in body  # what was typed is kept
    syntax = owner.post(reverse("tool-new"), tool_fields("def f(:\n    pass\n"), HTTP_HX_REQUEST="true")
    assert syntax.status_code == 422 and "line 1:" in syntax.content.decode()
    assert not Tool.objects.filter(owner=user).exists()


def test_a_taken_name_and_a_bad_requirement_are_refused_in_place(owner, user):
    tool_create(owner=user, source_code=ADD)
    taken = owner.post(reverse("tool-new"), tool_fields(ADD), HTTP_HX_REQUEST="true")
    assert taken.status_code == 422 and "You have a tool named add_numbers already" in taken.content.decode()
    url = owner.post(reverse("tool-new"), tool_fields(FAILS, pip_requirements="https://evil.example/x.whl"),
                     HTTP_HX_REQUEST="true")
    assert url.status_code == 422 and "is not a requirement pip reads by name" in url.content.decode()
    assert Tool.objects.filter(owner=user).count() == 1


def test_the_preview_shows_the_schema_or_the_error_with_its_line(owner):
    good = owner.post(reverse("tool-preview"), {"source_code": ADD, "description": "Sums."}, HTTP_HX_REQUEST="true")
    body = good.content.decode()
    assert good.status_code == 200 and 'id="schema-preview"' in body
    assert "&quot;description&quot;: &quot;Sums.&quot;" in body and "&quot;request_heartbeat&quot;" in body
    assert "data-error-line" not in body
    bad = owner.post(reverse("tool-preview"), {"source_code": ADD.replace("        b: the second number\n", "        c: nope\n")})
    body = bad.content.decode()
    assert 'data-error-line="6"' in body and "line 6:" in body and "&#x27;c&#x27;, which is not a parameter" in body


def test_edit_a_tool_and_its_name_follows_the_source(owner, user):
    tool = tool_create(owner=user, source_code=ADD)
    response = owner.post(reverse("tool", args=[tool.pk]),
                          tool_fields(ADD.replace("add_numbers", "sum_two"), description="Sum of two.", return_char_limit=100),
                          HTTP_HX_REQUEST="true")
    tool.refresh_from_db()
    assert response.status_code == 200 and "saved" in response.content.decode()
    assert (tool.name, tool.description, tool.return_char_limit) == ("sum_two", "Sum of two.", 100)
    bad = owner.post(reverse("tool", args=[tool.pk]), tool_fields("x = 1\n"), HTTP_HX_REQUEST="true")
    assert bad.status_code == 422 and "defines no top-level function" in bad.content.decode()
    tool.refresh_from_db()
    assert tool.name == "sum_two"


def test_delete_a_tool(owner, user, agent):
    tool = tool_create(owner=user, source_code=ADD)
    agent.tools.add(tool)
    response = owner.post(reverse("tool-delete", args=[tool.pk]), HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("tools")
    assert not Tool.objects.filter(pk=tool.pk).exists() and not agent.tools.filter(name="add_numbers").exists()


def test_someone_elses_tool_is_404_everywhere(owner):
    tool = tool_create(owner=make_user(), source_code=ADD)
    assert owner.get(reverse("tool", args=[tool.pk])).status_code == 404
    for name in ("tool", "tool-delete", "tool-run"):
        assert owner.post(reverse(name, args=[tool.pk]), tool_fields(FAILS, a=1)).status_code == 404, name
    tool.refresh_from_db()
    assert tool.source_code == ADD


def test_builtin_tools_are_read_only(owner):
    builtin = Tool.objects.get(name="send_message", owner=None)
    page = owner.get(reverse("tool", args=[builtin.pk])).content.decode()
    assert "cannot be changed" in page and "&quot;send_message&quot;" in page and "data-code-editor" not in page
    assert owner.post(reverse("tool", args=[builtin.pk]), tool_fields(ADD)).status_code == 403
    assert owner.post(reverse("tool-delete", args=[builtin.pk])).status_code == 403
    assert owner.post(reverse("tool-run", args=[builtin.pk]), {"message": "hi"}).status_code == 403
    assert Tool.objects.get(pk=builtin.pk).json_schema == builtin.json_schema


def test_the_run_form_has_one_input_per_parameter_of_the_schema(owner, user):
    tool = tool_create(owner=user, source_code=KINDS)
    body = owner.get(reverse("tool", args=[tool.pk])).content.decode()
    form = body[body.index('id="run-form"'):]
    assert 'type="text" name="name"' in form and 'type="number" name="count"' in form
    assert 'type="number" name="ratio"' in form and 'step="any"' in form
    assert 'type="checkbox" name="loud"' in form
    assert '<select name="mood"' in form and ">calm</option>" in form and ">angry</option>" in form
    assert '<textarea name="items"' in form and '<textarea name="extra"' in form
    assert 'name="request_heartbeat"' not in form and 'name="agent_state"' not in form
    assert "what to describe" in form  # the docstring's words for the parameter
    positions = [form.index(f'name="{name}"') for name in ("name", "count", "ratio", "loud", "mood", "items", "extra")]
    assert positions == sorted(positions)  # in the signature's order


def test_run_a_tool_and_see_its_result_output_and_duration(owner, user):
    tool = tool_create(owner=user, source_code=KINDS)
    response = owner.post(reverse("tool-run", args=[tool.pk]), {
        "name": "<b>cat</b>", "count": "3", "ratio": "0.5", "loud": "on", "mood": '"calm"', "items": '["a", "b"]', "extra": ""})
    body = response.content.decode()
    assert response.status_code == 200 and "badge ok" in body
    assert "&quot;&lt;B&gt;CAT&lt;/B&gt; X3 AT 0.5: CALM, 2 ITEMS&quot;" in body  # the value, escaped
    assert " s</span>" in body
    invalid = owner.post(reverse("tool-run", args=[tool.pk]), {"name": "x", "count": "many", "ratio": "1", "mood": '"calm"',
                                                             "items": '{"not": "a list"}'})
    body = invalid.content.decode()
    assert invalid.status_code == 422 and "Enter a whole number." in body and "Enter a JSON array." in body


def test_a_failing_tool_shows_its_error_traceback_and_printed_output(owner, user):
    tool = tool_create(owner=user, source_code=ADD.replace("return a + b", "return a / (b - b)"))
    body = owner.post(reverse("tool-run", args=[tool.pk]), {"a": "1"}).content.decode()
    assert "badge failed" in body and "ZeroDivisionError" in body and "Traceback" in body
    assert "adding 1 and 2" in body  # b's default held: the empty optional field was left out


def test_a_tool_taking_agent_state_is_run_with_the_chosen_agents_state(owner, user, agent):
    source = '''def persona(agent_state) -> str:
    """The agent's persona."""
    return agent_state.memory.get_block("persona").value
'''
    tool = tool_create(owner=user, source_code=source)
    other = agent_create(owner=make_user(), name="Not yours", persona="secret", human="")
    assert owner.post(reverse("tool-run", args=[tool.pk]), {"agent_state": other.pk}).status_code == 422
    body = owner.post(reverse("tool-run", args=[tool.pk]), {"agent_state": agent.pk}).content.decode()
    assert "&quot;I am Sam.&quot;" in body


def test_attach_and_detach_tools_on_the_agent_page(owner, user, agent):
    tool = tool_create(owner=user, source_code=ADD)
    page = owner.get(reverse("agent", args=[agent.pk])).content.decode()
    assert reverse("agent-tools", args=[agent.pk]) in page and reverse("agent-settings", args=[agent.pk]) in page
    panel = owner.get(reverse("agent-tools", args=[agent.pk])).content.decode()
    assert f'<option value="{tool.pk}">add_numbers</option>' in panel and 'data-tool="send_message"' in panel
    response = owner.post(reverse("agent-tool-change", args=[agent.pk, "attach"]), {"tool": tool.pk})
    assert response.status_code == 200 and 'data-tool="add_numbers"' in response.content.decode()
    assert agent.tools.filter(pk=tool.pk).exists()
    response = owner.post(reverse("agent-tool-change", args=[agent.pk, "detach"]), {"tool": tool.pk})
    assert response.status_code == 200 and not agent.tools.filter(pk=tool.pk).exists()
    theirs = tool_create(owner=make_user(), source_code=FAILS)
    assert owner.post(reverse("agent-tool-change", args=[agent.pk, "attach"]), {"tool": theirs.pk}).status_code == 404
    assert owner.post(reverse("agent-tool-change", args=[agent.pk, "attach"]), {"tool": "x"}).status_code == 400


def test_tool_rules_are_added_and_removed_and_refusals_show_in_place(owner, user, agent):
    tool = tool_create(owner=user, source_code=ADD)
    agent.tools.add(tool)
    url = reverse("agent-rule-add", args=[agent.pk])
    missing = owner.post(url, {"type": "max_count_per_step", "tool_name": "add_numbers"})
    assert missing.status_code == 422 and "How many calls a turn?" in missing.content.decode()
    response = owner.post(url, {"type": "max_count_per_step", "tool_name": "add_numbers", "max_count_limit": "2"})
    assert response.status_code == 200 and "at most 2 a turn" in response.content.decode()
    response = owner.post(url, {"type": "conditional", "tool_name": "add_numbers", "child_output_mapping": "4: send_message",
                                "default_child": "conversation_search"})
    assert response.status_code == 200
    agent.refresh_from_db()
    assert agent.tool_rules == [
        {"tool_name": "add_numbers", "type": "max_count_per_step", "max_count_limit": 2},
        {"tool_name": "add_numbers", "type": "conditional", "default_child": "conversation_search",
         "child_output_mapping": {"4": "send_message"}, "require_output_mapping": False}]
    unknown = owner.post(url, {"type": "exit_loop", "tool_name": "no_such_tool"})
    assert unknown.status_code == 422 and "Select a valid choice" in unknown.content.decode()

    # a rule names the tool: detaching it is refused, with the service's words
    detach = owner.post(reverse("agent-tool-change", args=[agent.pk, "detach"]), {"tool": tool.pk})
    assert detach.status_code == 422 and "rule names add_numbers: change the rule first" in detach.content.decode()
    assert agent.tools.filter(pk=tool.pk).exists()

    response = owner.post(reverse("agent-rule-delete", args=[agent.pk, 0]))
    assert response.status_code == 200
    agent.refresh_from_db()
    assert [r["type"] for r in agent.tool_rules] == ["conditional"]
    assert owner.post(reverse("agent-rule-delete", args=[agent.pk, 5])).status_code == 422


def test_a_rule_the_service_refuses_shows_its_sentence(owner, user, agent, monkeypatch):
    # the service checks what the form cannot know: here a tool taken away since the form was drawn
    tool = tool_create(owner=user, source_code=ADD)
    agent.tools.add(tool)
    import playground.views.tools as views

    original = views.agent_update

    def detached_meanwhile(*, agent, **changes):
        agent.tools.remove(tool)
        return original(agent=agent, **changes)

    monkeypatch.setattr(views, "agent_update", detached_meanwhile)
    response = owner.post(reverse("agent-rule-add", args=[agent.pk]), {"type": "exit_loop", "tool_name": "add_numbers"})
    assert response.status_code == 422
    assert "the exit_loop rule names &#x27;add_numbers&#x27;, which is not one of the agent&#x27;s tools" in response.content.decode()
    assert Agent.objects.get(pk=agent.pk).tool_rules == []


def settings_fields(agent, **changes) -> dict:
    fields = {name: getattr(agent, name) for name in ("name", "description", "model", "context_window", "temperature",
                                                      "system", "max_steps", "warning_share", "evict_share",
                                                      "completion_reserve", "tool_protocol")}
    return {**fields, "tags": ", ".join(agent.tags), **changes}


def test_settings_are_saved_and_the_inspector_counts_against_the_new_window(owner, agent):
    form = owner.get(reverse("agent-settings", args=[agent.pk])).content.decode()
    assert f'value="{agent.context_window}"' in form and "Base instructions (system prompt)" in form
    response = owner.post(reverse("agent-settings", args=[agent.pk]), settings_fields(
        agent, context_window=12345, temperature=0.2, max_steps=4, completion_reserve=2000, system="Be brief. " + XSS,
        heartbeat_fallback="on", tool_protocol="json"))
    body = response.content.decode()
    assert response.status_code == 200 and "saved" in body
    assert 'id="agent-summary" class="muted" hx-swap-oob="true"' in body and "window 12345 tokens" in body
    assert XSS not in body
    agent.refresh_from_db()
    assert (agent.context_window, agent.temperature, agent.max_steps, agent.completion_reserve) == (12345, 0.2, 4, 2000)
    assert (agent.heartbeat_fallback, agent.tool_protocol) == (True, "json")  # the model check's fallbacks
    assert agent.system == "Be brief. " + XSS
    inspector = owner.get(reverse("inspector", args=[agent.pk])).content.decode()
    assert "reserved of 12345" in inspector and "2000 reserved" in inspector


def test_invalid_settings_come_back_with_their_errors_in_place(owner, agent):
    url = reverse("agent-settings", args=[agent.pk])
    order = owner.post(url, settings_fields(agent, warning_share=0.4, evict_share=0.6))
    assert order.status_code == 422 and "a warning comes before eviction" in order.content.decode()
    reserve = owner.post(url, settings_fields(agent, completion_reserve=agent.context_window))
    assert reserve.status_code == 422 and "must be under half the context window" in reserve.content.decode()
    window = owner.post(url, settings_fields(agent, model="gpt-4", context_window=100_000))
    assert window.status_code == 422 and "larger than" in window.content.decode()
    field = owner.post(url, settings_fields(agent, temperature=5, system="", tool_protocol="<b>xml</b>"))
    body = field.content.decode()
    assert "Select a valid choice. &lt;b&gt;xml&lt;/b&gt; is not one of the available choices." in body
    assert field.status_code == 422 and "less than or equal to 2" in body and "This field is required" in body
    assert Agent.objects.get(pk=agent.pk).warning_share == agent.warning_share


def test_another_users_agent_tabs_are_404(client, agent):
    client.force_login(make_user())
    for url in (reverse("agent-tools", args=[agent.pk]), reverse("agent-settings", args=[agent.pk])):
        assert client.get(url).status_code == 404
    send = Tool.objects.get(name="send_message", owner=None)
    assert client.post(reverse("agent-tool-change", args=[agent.pk, "detach"]), {"tool": send.pk}).status_code == 404
    assert client.post(reverse("agent-settings", args=[agent.pk]), settings_fields(agent, max_steps=1)).status_code == 404
    assert agent.tools.filter(pk=send.pk).exists() and Agent.objects.get(pk=agent.pk).max_steps == agent.max_steps


def test_source_with_markup_or_nul_is_text_or_refused(owner, user):
    source = ADD.replace("Add two numbers.", "Add two numbers. </textarea>" + XSS)
    tool = tool_create(owner=user, source_code=source)
    page = owner.get(reverse("tool", args=[tool.pk])).content.decode()
    assert XSS not in page and "</textarea><script>" not in page
    assert page.count("&lt;/textarea&gt;&lt;script&gt;") >= 3  # the editor's textarea and <pre>, and the preview
    nul = owner.post(reverse("tool-new"), tool_fields(ADD.replace("Add", "Add\x00")), HTTP_HX_REQUEST="true")
    assert nul.status_code == 422 and "Null characters are not allowed." in nul.content.decode()
    preview = owner.post(reverse("tool-preview"), {"source_code": "def f(\x00"}).content.decode()
    assert "source code string cannot contain null bytes" in preview
    assert Tool.objects.filter(owner=user).count() == 1
