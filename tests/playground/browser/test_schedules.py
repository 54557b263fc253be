"""The agent page's Schedule tab in a real browser: a heartbeat scheduled from the form appears in
the list, with who made it and when it comes; a bad form comes back with its error in place."""

from agents.models import ScheduledMessage
from agents.services import agent_create
from tests.factories import make_user
from tests.helpers import log_in, open_agent, screenshot


def test_schedule_a_heartbeat_from_the_agent_page(page):
    user = make_user(username="ada")
    agent = agent_create(owner=user, name="Sam")
    log_in(page, user)
    open_agent(page, agent)
    page.click(".tabs .tab:has-text('Schedule')")
    form = page.locator("#schedule-form")
    form.wait_for()
    form.locator("select[name=kind]").select_option("heartbeat")
    form.locator("textarea[name=text]").fill("<b>stretch</b> and drink water")
    form.locator("button[type=submit]").click()
    page.locator("#schedule-form .error:has-text('Say when')").wait_for()  # a 422, swapped in place

    page.locator("#schedule-form textarea[name=text]").fill("<b>stretch</b> and drink water")
    page.locator("#schedule-form input[name=every_minutes]").fill("45")
    page.locator("#schedule-form button[type=submit]").click()
    row = page.locator("tr.schedule")
    row.wait_for()
    schedule = ScheduledMessage.objects.get(agent=agent)
    assert (schedule.kind, schedule.every_seconds, schedule.created_by) == ("heartbeat", 2700, user)
    cells = row.inner_text()
    assert "<b>stretch</b> and drink water" in cells and "every 45m" in cells and "ada" in cells
    assert row.locator("b").count() == 0  # the text is shown, not rendered
    assert schedule.next_run_at.strftime("%Y-%m-%d %H:%M") in cells
    screenshot(page, "agent-schedule")
