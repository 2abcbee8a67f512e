"""The board report and an indicator's monthly return in headless Chromium, with axe-core:
Middlesbrough's real delivery plan (seed 000) and its demo indicators on four real Cleveland
months. ``CSP_SCREENSHOTS=docs/screenshots`` keeps board.png and indicator.png."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from csp_platform.incidents.models import Category
from csp_platform.plans import indicator_services, services
from csp_platform.plans.models import Action, Indicator
from tests.conftest import DATA
from tests.platform.web import test_browser as browser
from tests.platform.web.conftest import MIDDLESBROUGH

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# The browser, live server and signed-in visits of the hub's browser tests.
chromium, live_world, shots, visit = (
    browser.chromium, browser.live_world, browser.shots, browser.visit
)  # fmt: skip


@pytest.fixture
def plans_world(live_world: dict[str, Any]) -> dict[str, Any]:
    services.demo_plans_load(DATA.parent / "seeds")
    indicator_services.demo_indicators_load(MIDDLESBROUGH)
    action = Action.objects.filter(
        plan__partnership__slug=MIDDLESBROUGH, text__icontains="begging"
    ).first()
    assert action is not None
    from csp_platform.areas.models import Area

    action.areas.add(Area.objects.get(level="district", code="E06000002"))
    action.categories.add(Category.objects.get(code="anti-social-behaviour"))
    action.start_date = date(2019, 1, 1)
    action.save()
    return live_world


def test_the_board_report_reads_and_passes_axe(plans_world, visit):
    v = visit("councillor", axe=True)
    page = v.go(f"/p/{MIDDLESBROUGH}/board/", "#board-priorities")
    assert page.locator("#board-totals").is_visible()
    headings = page.locator("h2.govuk-heading-m").all_inner_texts()
    assert headings[:4] == [
        "Progress by priority",
        "Exceptions: red, amber and overdue actions",
        "Indicators against target",
        "Did it work? Outcome verdicts",
    ]
    assert page.locator("#board-indicators").get_by_text("Anti-social behaviour in").count() == 1
    outcomes = page.locator("#board-outcomes").inner_text()
    assert "begging" in outcomes and "No verdict" in outcomes
    v.check_accessibility("board")
    v.screenshot("board")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as Word (DOCX)").click()
    assert download.value.suggested_filename == f"board-report-{MIDDLESBROUGH}.docx"


def test_the_council_enters_a_monthly_return_on_the_indicator_page(plans_world, visit):
    indicator = Indicator.objects.get(name="PSPO breaches", partnership__slug=MIDDLESBROUGH)
    v = visit("data_manager", axe=True)  # Middlesbrough Council owns the enforcement returns
    page = v.go(f"/p/{MIDDLESBROUGH}/indicators/{indicator.uuid}/", "#indicator-periods")
    page.fill("#id_month", "2019-02")
    page.fill("#id_value", "7")
    page.fill("#id_note", "Town centre PSPO")
    page.get_by_role("button", name="Save return").click()
    page.wait_for_selector("#returns-table")
    row = page.locator("#returns-table tbody tr").first.inner_text()
    assert "2019-02" in row and "7" in row and "data_manager" in row
    assert (
        page.locator("#indicator-periods tr[data-period='2019-02']")
        .inner_text()
        .split("\t")[1]
        .strip()
        == "7"
    )
    assert "Gap: no data" in page.locator("#indicator-periods").inner_text()
    v.check_accessibility("indicator")
    v.screenshot("indicator")
    assert indicator.values.get().entered_by.username == "data_manager"
