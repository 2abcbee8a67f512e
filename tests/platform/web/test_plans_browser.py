"""The plan pages in headless Chromium, with axe: a manager edits an action, a lead
officer enters a quarterly update, and an officer is refused another organisation's action.
With ``CSP_SCREENSHOTS=DIR`` the plan and action pages are saved (docs/screenshots/)."""

from __future__ import annotations

import pytest

from csp_platform.core.models import AuditAction, AuditEvent
from csp_platform.plans import services
from csp_platform.plans.models import Action, Plan, QuarterlyUpdate, Rag
from tests.conftest import SHARED
from tests.platform.web.conftest import MIDDLESBROUGH, areas_ensure, personas_create
from tests.platform.web.test_browser import chromium, shots, visit  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEED_000 = next((SHARED / "seeds").glob("000_*.txt"))


@pytest.fixture
def plan_world(transactional_db: None) -> Plan:
    """Committed for the live server: areas, personas, the Middlesbrough delivery plan."""
    areas_ensure()
    personas_create()
    services.plan_import(SEED_000, partnership_slug=MIDDLESBROUGH)
    plan = Plan.objects.get()
    # A few statuses, so the tree shows each word with its symbol.
    for line, rag in ((37, Rag.BLUE), (38, Rag.GREEN), (39, Rag.AMBER), (40, Rag.RED)):
        services.quarterly_update_add(
            action=Action.objects.get(source_line=line),
            by="setup",
            membership=None,
            fiscal_year=2021,
            quarter=2,
            commentary="Quarter 2 position",
            rag=rag,
        )
    return plan


def _action_path(action: Action, suffix: str = "") -> str:
    return f"/p/{MIDDLESBROUGH}/plans/actions/{action.uuid}/{suffix}"


def test_a_manager_edits_an_action_and_sees_it_in_the_history(plan_world, visit):  # noqa: F811
    v = visit("manager", axe=True)
    # (signing in lands on the hub, which has no incident data in this world)
    page = v.go(f"/p/{MIDDLESBROUGH}/wards/")
    v.errors.clear()
    page.click("nav >> text=Plans")
    page.click(f"text={plan_world.title}")
    page.wait_for_selector("#plan-filters")
    assert "Showing 83 of 83 actions." in page.inner_text("#shown-count")
    for word in ("Blue: complete", "Green: on track", "Amber: at risk", "Red: off track"):
        assert page.locator(f".csp-rag:has-text('{word}')").count() >= 1
    v.check_accessibility("plan")
    priority_one = str(plan_world.priorities.get(number=1).pk)
    page.select_option("#id_priority", priority_one)
    page.click("button:has-text('Filter')")
    page.wait_for_selector("#shown-count")
    # Priority 1's tables by hand: 12 + 16 + 3 actions (lines 37-75 of the seed)
    assert "Showing 31 of 83 actions." in page.inner_text("#shown-count")
    v.screenshot("plan")
    page.select_option("#id_priority", "")

    # Filter by status, by keyboard-reachable controls.
    page.select_option("#id_rag", "red")
    page.click("button:has-text('Filter')")
    page.wait_for_selector("#shown-count")
    assert "Showing 1 of 83 actions." in page.inner_text("#shown-count")

    page.click("table.csp-plan-table a.govuk-link")
    page.wait_for_selector("#action-text")
    v.check_accessibility("action")
    v.screenshot("action")
    page.click("#edit-action")
    page.wait_for_selector("#action-form")
    v.check_accessibility("edit action")
    page.fill("#id_timescale", "March 2022")
    page.fill("#id_lead_officer", "Neighbourhood Safety Manager")
    page.click("#save-action")
    page.wait_for_selector("#history")
    history = page.inner_text("#history")
    assert "manager" in history
    assert "from “(empty)” to “March 2022”" in history
    assert "from “(empty)” to “Neighbourhood Safety Manager”" in history
    assert "31 March 2022" in page.inner_text("#action-summary")
    assert AuditEvent.objects.filter(action=AuditAction.ALTERATION, actor="manager").count() == 1
    assert not v.errors, v.errors


def test_a_lead_officer_enters_a_quarterly_update(plan_world, visit):  # noqa: F811
    fire = Action.objects.get(lead_organisations__slug="cleveland-fire-brigade")
    v = visit("officer", axe=True)  # Cleveland Fire Brigade
    page = v.go(_action_path(fire))
    v.errors.clear()
    assert page.locator("#edit-action").count() == 0
    page.click("#enter-update")
    page.wait_for_selector("#update-form")
    v.check_accessibility("quarterly update")
    page.fill("#id_fiscal_year", "2021")
    page.check("#id_quarter_2")  # Q3
    page.check("input[name=rag][value=green]")
    page.fill("#id_commentary", "Heat maps shared at AIM; three action plans agreed")
    page.click("#save-update")
    page.wait_for_selector("#updates-heading")
    text = page.inner_text("main")
    assert "2021-22 Q3" in text and "Green: on track" in text
    assert "Heat maps shared at AIM; three action plans agreed" in text
    update = QuarterlyUpdate.objects.get(action=fire, quarter=3)
    assert update.entered_by.username == "officer" and update.rag == Rag.GREEN
    assert not v.errors, v.errors


def test_an_officer_is_refused_another_organisations_action(plan_world, visit):  # noqa: F811
    council = Action.objects.get(source_line=41)  # MBC
    v = visit("officer", axe=True)
    page = v.go(_action_path(council))
    assert page.locator("#enter-update").count() == 0
    response = page.goto(v.base + _action_path(council, "update/"))
    assert response.status == 403
    v.check_accessibility("refused update")
    assert not QuarterlyUpdate.objects.filter(action=council, entered_by__username="officer")
