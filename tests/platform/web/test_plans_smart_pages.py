"""The SMART pages through the test client: the partnership summary (counts per criterion,
the items lacking each with the reason and the quoted words) and the badges beside each
action in the plan view and on the action page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from csp_platform.plans import services
from csp_platform.plans.models import Action, Plan
from tests.conftest import SHARED
from tests.platform.web.conftest import MIDDLESBROUGH, client_for

SEEDS = SHARED / "seeds"


@pytest.fixture
def plans(personas) -> None:
    for prefix in ("000_", "001_"):
        services.plan_import(next(SEEDS.glob(prefix + "*.txt")), partnership_slug=MIDDLESBROUGH)


def _get(personas, name: str, url: str) -> str:
    response = client_for(personas, name).get(url)
    assert response.status_code == 200
    return response.content.decode()


def _count(page: str, criterion: str) -> int:
    row = re.search(rf'data-criterion="{criterion}">.*?</tr>', page, re.S)
    assert row, criterion
    cells = re.findall(r'numeric">(\d+)</td>', row.group(0))
    return int(cells[0])


def test_the_summary_counts_and_lists_the_gaps(personas, plans):
    page = _get(personas, "councillor", reverse("plans:smart", args=[MIDDLESBROUGH]))
    # 83 actions of seed 000 and 6 recommendations of seed 001; seed 000 has no timescale
    # column, and recommendations c) and f) say "Ongoing".
    assert "0 of 89 items meet all five." in page
    assert _count(page, "time-bound") == 85
    assert _count(page, "assignable") == 89
    section = page.split('id="lacks-time-bound"')[1].split("</section>")[0]
    assert "The timescale &#x27;Ongoing&#x27; sets no date or quarter" in section
    assert "<q>Ongoing</q>" in section
    specific = page.split('id="lacks-specific"')[1].split("</section>")[0]
    covid = Action.objects.get(text="Covid-19")
    assert str(covid.uuid) in specific and "A topic, not an action" in specific
    assert "<q>Consider</q>" in specific


def test_badges_in_the_plan_view_and_reasons_on_the_action_page(personas, plans):
    plan = Plan.objects.get(partnership__slug=MIDDLESBROUGH, kind=Plan.Kind.DELIVERY)
    page = _get(personas, "officer", reverse("plans:plan", args=[MIDDLESBROUGH, plan.uuid]))
    assert page.count('aria-label="SMART check"') == 83
    # every delivery-plan action lacks time-bound, shown in words with a symbol
    assert page.count('data-criterion="time-bound" data-met="no"') == 83
    assert '✗T</span><span class="govuk-visually-hidden">Lacks time-bound</span>' in page
    cctv = Action.objects.get(text__startswith="Increase the no. of CCTV cameras")
    page = _get(personas, "officer", reverse("plans:action", args=[MIDDLESBROUGH, cctv.uuid]))
    box = page.split('id="smart-check"')[1].split("</ul>")[0]
    assert 'data-criterion="specific" data-met="yes"' in box
    assert 'data-criterion="relevant" data-met="yes"' in box
    assert "Promises a change (&#x27;Increase&#x27;) but not by how much" in box
    assert "<q>Increase</q>" in box
