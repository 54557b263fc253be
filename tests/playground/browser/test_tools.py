"""Tools in a real browser: write one in the highlighting editor while its schema preview follows,
save it, run it from the form made from its schema, then give it to an agent with a rule, and change
the agent's settings."""

import re

from agents.models import Agent, Tool
from agents.services import agent_create
from tests.factories import make_user
from tests.helpers import log_in, open_agent, screenshot

FIRST = '''def greet(name: str) -> str:
    """Greet someone by name.

    Args:
        name: who to greet
    """
    return f"Hello, {name}"
'''

GREET = '''import functools
from typing import Literal


# a helper above the tool: the tool is the last function defined
@functools.lru_cache(maxsize=None)
def shout(text: str) -> str:
    return text.upper() + "!"


def greet(name: str, times: int = 1, loud: bool = False, mood: Literal["warm", "curt"] = "warm") -> str:
    """Greet someone by name.

    Args:
        name: who to greet
        times: how many greetings
        loud: shout them
        mood: warm or curt
    """
    line = f"Hello, {name}" if mood == "warm" else f"{name}."
    print(f"greeting {name} {times} times")
    return " ".join([shout(line) if loud else line] * times)
'''


def test_write_a_tool_run_it_and_give_it_to_an_agent(page):
    user = make_user()
    agent = agent_create(owner=user, name="Sam", persona="I am Sam.", human="")
    log_in(page, user)
    page.click(".topbar a:text('Tools')")
    page.wait_for_url("**/tools/")
    assert page.locator("details.builtin-tool summary").filter(has_text=re.compile(r"^\s*send_message\s")).count() == 1
    page.click("a:text('New tool')")

    editor = page.locator(".code-editor")
    source = editor.locator("textarea")
    assert "ready" in editor.get_attribute("class")  # the highlighting is in place; the textarea text is transparent
    assert editor.locator(".tok-defname").first.inner_text() == "roll_dice"

    source.fill(FIRST)
    preview = page.locator("#schema-preview")
    preview.locator("text=who to greet").wait_for()
    assert '"times"' not in preview.inner_text()
    # a parameter without an annotation: the preview says which line, and the editor marks it
    source.fill(FIRST.replace("name: str)", "name)"))
    preview.locator(".error:has-text('line 1:')").wait_for()
    assert "has no type annotation" in preview.inner_text()
    editor.locator(".error-line").wait_for(state="visible")
    assert editor.locator(".error-line").evaluate("mark => mark.offsetTop") < 30  # line 1, at the top
    screenshot(page, "tool-editor-error")

    source.fill(GREET)
    preview.locator("text=how many greetings").wait_for()
    assert '"enum": [\n' in preview.inner_text() and '"request_heartbeat"' in preview.inner_text()
    editor.locator(".error-line").wait_for(state="hidden")
    # the same text, highlighted
    assert editor.locator("pre code").text_content().rstrip() == GREET.rstrip()
    # line for line over each other: the highlighted text as tall as the textarea's
    heights = editor.evaluate("e => [e.querySelector('textarea').scrollHeight, e.querySelector('pre').scrollHeight]")
    assert heights[0] > 400 and abs(heights[0] - heights[1]) <= 2, heights
    assert editor.locator(".tok-decorator").first.inner_text() == "@functools.lru_cache"
    assert editor.locator(".tok-comment").first.inner_text().startswith("# a helper above the tool")
    assert editor.locator(".tok-string").filter(has_text='"""Greet someone by name.').count() == 1
    assert editor.locator(".tok-fstring .tok-interp").first.inner_text() == "{name}"
    assert {"def", "return", "import", "from"} <= set(editor.locator(".tok-keyword").all_inner_texts())
    assert {"shout", "greet"} <= set(editor.locator(".tok-defname").all_inner_texts())
    assert "print" in editor.locator(".tok-builtin").all_inner_texts()
    assert "1" in editor.locator(".tok-number").all_inner_texts()

    # Tab indents by four spaces, in the textarea's own value
    source.press("End")
    source.press("Control+End")
    source.press("Tab")
    assert source.input_value().endswith("\n    ")
    page.fill("#tool-form input[name=tags]", "greetings, demo")
    screenshot(page, "tool-editor")
    page.click("#tool-form button[type=submit]")
    page.wait_for_url(re.compile(r"/tools/\d+/$"))
    tool = Tool.objects.get(owner=user, name="greet")
    assert tool.tags == ["greetings", "demo"] and tool.source_code.rstrip() == GREET.rstrip()
    assert page.locator("h1").inner_text().startswith("greet")

    run = page.locator("#run-form")
    assert run.locator(".param label code").all_inner_texts() == ["name", "times", "loud", "mood"]
    run.locator("input[name=name]").fill("<b>Ada</b>")
    run.locator("input[name=times]").fill("2")
    run.locator("input[name=loud]").check()
    run.locator("select[name=mood]").select_option(label="warm")
    run.locator("button[type=submit]").click()
    result = page.locator("#run-form .run-result")
    result.wait_for()
    assert result.locator(".badge").inner_text() == "OK"
    assert result.locator("pre.result").inner_text() == '"HELLO, <B>ADA</B>! HELLO, <B>ADA</B>!"'
    assert result.locator("pre.result b").count() == 0  # shown as text, never as markup
    assert result.locator("pre.stdout").inner_text().strip() == "greeting <b>Ada</b> 2 times"
    assert re.fullmatch(r"\d+\.\d{3} s", result.locator(".duration").inner_text())
    screenshot(page, "tool-run")

    page.click("a:text('← Tools')")
    row = page.locator(f"#tool-{tool.pk}")
    assert row.locator(".tool-name").inner_text() == "greet" and "greetings" in row.inner_text()
    page.locator("details.builtin-tool summary:has-text('core_memory_append')").click()
    screenshot(page, "tools")

    open_agent(page, agent)
    page.click(".tabs .tab:has-text('Tools')")
    page.locator("#agent-tools").wait_for()
    page.select_option(".attach-tool select[name=tool]", label="greet")
    page.click(".attach-tool button")
    page.locator(".agent-tool[data-tool='greet']").wait_for()
    assert Agent.objects.get(pk=agent.pk).tools.filter(pk=tool.pk).exists()

    page.click("details.add-rule summary")
    rule = page.locator("#rule-form")
    rule.locator("select[name=type]").select_option("conditional")
    assert rule.locator(".rule-field[data-kinds~='conditional']").first.is_visible()
    assert not rule.locator(".rule-field[data-kinds~='max_count_per_step']").is_visible()
    rule.locator("button").scroll_into_view_if_needed()
    screenshot(page, "agent-rule-form")
    rule.locator("select[name=type]").select_option("max_count_per_step")
    assert rule.locator(".rule-field[data-kinds~='max_count_per_step']").is_visible()
    assert not rule.locator(".rule-field[data-kinds~='conditional']").first.is_visible()
    rule.locator("select[name=tool_name]").select_option("greet")
    rule.locator("input[name=max_count_limit]").fill("1")
    rule.locator("button").click()
    page.locator(".rule:has-text('at most 1 a turn')").wait_for()
    assert Agent.objects.get(pk=agent.pk).tool_rules == [{"tool_name": "greet", "type": "max_count_per_step", "max_count_limit": 1}]
    # the rule names the tool: detaching it is refused, in place
    page.click(".agent-tool[data-tool='greet'] button")
    page.locator("#agent-tools .error:has-text('change the rule first')").wait_for()
    screenshot(page, "agent-tools")

    page.click(".tabs .tab:has-text('Settings')")
    page.fill("#settings-form input[name=context_window]", "9000")
    page.fill("#settings-form textarea[name=system]", "You are Sam. Be brief.")
    page.click("#settings-form button[type=submit]")
    page.locator("#agent-settings .badge.ok").wait_for()
    assert "window 9000 tokens" in page.locator("#agent-summary").inner_text()
    screenshot(page, "agent-settings")
    page.click("#agent-settings a:text('See the context window')")
    page.locator("#inspector:has-text('reserved of 9000')").wait_for()
    assert page.locator(".tabs .tab.active").inner_text() == "Context"
    assert Agent.objects.get(pk=agent.pk).system == "You are Sam. Be brief."
