"""The SMART summary page in a real headless Chromium (Debian's) with axe: a councillor
follows the link from the plans, reads the counts, jumps to a criterion, opens an action
from the list and sees its badges and reasons. ``CSP_SCREENSHOTS=DIR`` (``make
screenshots``) saves docs/screenshots/smart.png."""

from __future__ import annotations

from typing import Any

import pytest

from csp_platform.plans.services import demo_plans_load
from tests.conftest import SHARED
from tests.platform.web.conftest import MIDDLESBROUGH, personas_create
from tests.platform.web.test_browser import chromium, shots, visit  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_plans(transactional_db: None) -> dict[str, Any]:
    users = personas_create()
    demo_plans_load(SHARED / "seeds")
    return users


def test_the_smart_summary_page(live_plans, visit):  # noqa: F811
    v = visit("councillor", axe=True)
    page = v.go(f"/p/{MIDDLESBROUGH}/plans/")
    # The hub the sign-in lands on has no incident data in this test: its requests may
    # fail; from here on nothing may.
    v.errors.clear()
    page.click("#smart-link")
    page.wait_for_selector("#smart-counts")
    assert page.url.endswith(f"/p/{MIDDLESBROUGH}/plans/smart/")
    counts = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#smart-counts tr[data-criterion]')]
             .map(r => [r.dataset.criterion, +r.querySelector('td').textContent]))"""
    )
    # Seed 000 (83 actions) has no timescale column and names no person; seed 001's
    # recommendations c) and f) say "Ongoing" and name a post but no organisation.
    assert counts["time-bound"] == 85 and counts["assignable"] == 89
    assert page.text_content("#smart-total").strip().startswith("0 of 89 items")
    v.check_accessibility("SMART summary")
    page.set_viewport_size({"width": 1280, "height": 1500})
    page.screenshot(path=str(v.shots / "smart.png"), full_page=False)

    # Keyboard: the criterion links are reachable and jump to their list.
    page.focus("#smart-counts a[href='#lacks-specific']")
    page.keyboard.press("Enter")
    assert page.url.endswith("#lacks-specific")
    covid = page.locator("section:has(#lacks-specific) tr", has_text="Covid-19")
    assert "A topic, not an action" in covid.inner_text()
    covid.locator("a").click()
    page.wait_for_selector("#smart-check")
    lacks = page.evaluate(
        """() => [...document.querySelectorAll('#smart-check li[data-met="no"]')]
             .map(li => li.dataset.criterion)"""
    )
    assert lacks == ["specific", "measurable", "assignable", "time-bound"]
    assert "Lacks specific" in page.inner_text("#smart-check")
    v.check_accessibility("action page with its SMART check")
    assert not v.errors, v.errors


def test_the_plan_page_with_smart_badges_and_the_at_risk_section(live_plans, visit):  # noqa: F811
    from csp_platform.plans.models import Plan

    plan = Plan.objects.get(partnership__slug=MIDDLESBROUGH, kind=Plan.Kind.DELIVERY)
    v = visit("manager", axe=True)
    page = v.go(f"/p/{MIDDLESBROUGH}/plans/{plan.uuid}/", "#at-risk")
    v.errors.clear()
    # 83 actions, none updated since the plan's 2021-22 Q1 commentary: all "no update".
    assert "Overdue and at risk: 83 actions" in page.inner_text("#at-risk summary")
    page.click("#at-risk summary")
    assert page.locator("#at-risk-table tr[data-kinds='no_update']").count() == 83
    assert page.locator("ul.csp-smart").count() == 83
    v.check_accessibility("plan page with SMART badges and the at-risk section")
    page.click("#at-risk summary")  # closed again for the picture
    page.evaluate("document.activeElement.blur()")
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.locator("#shown-count").scroll_into_view_if_needed()
    page.screenshot(path=str(v.shots / "plan-smart.png"), full_page=False)
    assert not v.errors, v.errors
