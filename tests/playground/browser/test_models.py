"""Model servers and the model check in a real browser: a person adds their own server, its models
are listed, an agent on it is checked with the Check model button, and the report shows each point."""

from agents.models import ModelServer
from agents.services import agent_create
from tests.factories import make_user
from tests.fake_llm import tool_call
from tests.helpers import log_in, open_agent, screenshot

XSS = "<b>bold</b>"


def test_add_a_model_server_and_check_an_agents_model_on_it(page, live_llm):
    user = make_user(username="ada")
    log_in(page, user)
    page.goto("/settings/model-servers/")
    form = page.locator("#model-server-form")
    form.locator("input[name=name]").fill("gpu")
    form.locator("select[name=kind]").select_option("vllm")
    form.locator("input[name=base_url]").fill(live_llm.base_url)
    form.locator("input[name=api_key]").fill("sk-secret-" + XSS)
    form.locator("button[type=submit]").click()
    row = page.locator("tr.model-server:has-text('gpu')")
    row.wait_for()
    assert "a key is set" in row.inner_text() and "sk-secret" not in page.content()
    page.locator("#server-models:has-text('gpu/gpt-4o-mini')").wait_for()  # asked the server itself
    server = ModelServer.objects.get(owner=user, name="gpu")
    assert server.base_url == live_llm.base_url and "sk-secret" not in server.api_key_encrypted
    screenshot(page, "model-servers")

    agent = agent_create(owner=user, name="Sam", persona="I am Sam.", model="gpu/gpt-4o-mini")
    live_llm.enqueue(tool_call("archival_memory_insert", {"content": "Ada likes chess", "request_heartbeat": True},
                               content="Saving it. " + XSS),
                     tool_call("send_message", {"message": "Saved."}))
    open_agent(page, agent)
    page.click("button:has-text('Check model')")
    report = page.locator("#model-check table.model-check-points")
    report.wait_for(timeout=30_000)
    text = page.locator("#model-check").inner_text()
    assert "Model check: gpt-4o-mini" in text and "every required point passed" in text
    assert page.locator("#model-check tr[data-point=heartbeat] td").first.inner_text() == "PASS"
    assert page.locator("#model-check b").count() == 0  # what the model wrote is shown, not rendered
    # the check reached the agent's own server, with its key
    auth = [r for r in live_llm.requests if r["path"].endswith("/chat/completions")]
    assert auth and all(r["headers"].get("authorization") == "Bearer sk-secret-" + XSS for r in auth[-2:])
    screenshot(page, "model-check")
