"""The performance management framework and the board report, on four real Cleveland months
(2018-11 to 2019-02): computed indicators give the numbers of `csp counts`, gaps stay gaps,
the force comparison adds up, manual returns are audited and limited to the owner
organisation and managers, and the board report renders as a page and a Word document."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from docx import Document

from csp_platform.areas.models import Area
from csp_platform.core.errors import BadQuery, NotPermitted
from csp_platform.core.models import AuditAction, AuditEvent, Membership, Organisation, Partnership
from csp_platform.plans import indicator_services as services
from csp_platform.plans.indicators import PROVIDERS, indicator_report, provider
from csp_platform.plans.models import (
    Action,
    ActionIndicator,
    Indicator,
    Objective,
    Plan,
    Priority,
    QuarterlyUpdate,
)
from tests.platform.web.conftest import MIDDLEHAVEN, MIDDLESBROUGH, csp_json
from tests.platform.web.conftest import VerifiedClient as Client

MONTHS = [
    date(2018, 10, 1),
    date(2018, 11, 1),
    date(2018, 12, 1),
    date(2019, 1, 1),
    date(2019, 2, 1),
]
MIDDLESBROUGH_CODE = "E06000002"
OTHER_DISTRICTS = ("E06000001", "E06000003", "E06000004")  # Hartlepool, Redcar, Stockton


def _partnership() -> Partnership:
    return Partnership.objects.get(slug=MIDDLESBROUGH)


def _council() -> Organisation:
    return Organisation.objects.get(slug="middlesbrough-council")


def _computed(measure: str = "count", name: str = "ASB in Middlesbrough") -> Indicator:
    return services.indicator_create(
        partnership=_partnership(), name=name, source="incidents", by="test",
        spec={"area": {"code": MIDDLESBROUGH_CODE}, "categories": ["anti-social-behaviour"],
              "measure": measure},
        target=Decimal(900), tolerance=Decimal(100),
    )  # fmt: skip


def _manual(**fields) -> Indicator:
    return services.indicator_create(
        partnership=_partnership(), name=fields.pop("name", "PSPO breaches"), source="manual",
        by="test", owner=_council(), **fields,
    )  # fmt: skip


def test_a_computed_indicator_gives_the_numbers_of_csp_counts_and_gaps_not_zeros(personas):
    rows = csp_json(
        "csp_counts", "--by", "month", "--area", MIDDLESBROUGH_CODE,
        "--category", "anti-social-behaviour",
    )  # fmt: skip
    counted = {r["month"]: r["incidents"] for r in rows}
    assert set(counted) == {"2018-11", "2018-12", "2019-01", "2019-02"}
    report = indicator_report(_computed(), MONTHS)
    values = dict(report.values)
    assert values[date(2018, 10, 1)] is None  # no source loaded for 2018-10: a gap
    for m in MONTHS[1:]:
        assert values[m] == counted[f"{m:%Y-%m}"]
    assert report.latest is not None and report.latest.label == "2019-02"


def test_a_rate_indicator_is_the_count_per_1000_residents(personas):
    counts = dict(indicator_report(_computed(), MONTHS).values)
    population = Area.objects.get(level="district", code=MIDDLESBROUGH_CODE).population
    assert population and population > 100_000
    rates = dict(indicator_report(_computed("rate_per_1000", "ASB rate"), MONTHS).values)
    for m in MONTHS[1:]:
        assert rates[m] == pytest.approx(counts[m] * 1000 / population)


def test_the_force_comparison_is_every_district_and_the_rest_pooled(personas):
    rows = csp_json(
        "csp_counts", "--by", "district", "--from", "2018-11", "--to", "2019-02",
        "--category", "anti-social-behaviour",
    )  # fmt: skip
    by_code = {r["district"]: r["incidents"] for r in rows}
    comparison = indicator_report(_computed(), MONTHS).comparison
    assert comparison is not None
    assert {r.code for r in comparison.rows} == {MIDDLESBROUGH_CODE, *OTHER_DISTRICTS}
    assert comparison.ours is not None and comparison.ours.count == by_code[MIDDLESBROUGH_CODE]
    assert comparison.rest is not None
    assert comparison.rest.count == sum(by_code[c] for c in OTHER_DISTRICTS)
    pops = Area.objects.filter(level="district", code__in=OTHER_DISTRICTS)
    assert comparison.rest.population == sum(a.population for a in pops)
    assert comparison.words.startswith("Middlesbrough: ")
    assert "the rest of the force area" in comparison.words


def test_manual_returns_take_rag_against_target_in_words(personas):
    indicator = _manual(target=Decimal(10), tolerance=Decimal(2), direction="lower")
    user = personas["manager"]
    for month, value in ((date(2018, 11, 1), 9), (date(2018, 12, 1), 11), (date(2019, 2, 1), 15)):
        services.indicator_return_enter(indicator=indicator, month=month, value=value, by=user)
    report = indicator_report(indicator, MONTHS)
    rag = {p.label: p.rag.label for p in report.periods}
    assert rag == {
        "2018-10": "– No data",
        "2018-11": "✓ On target",
        "2018-12": "! Within tolerance",
        "2019-01": "– No data",  # a month without a return is a gap, not a zero
        "2019-02": "✗ Off target",
    }
    assert report.rag.word == "Off target"


def test_quarterly_indicators_sum_complete_quarters_only(personas):
    indicator = _manual(frequency="quarterly", target=Decimal(30), direction="higher")
    for month, value in ((date(2018, 10, 1), 10), (date(2018, 11, 1), 12), (date(2018, 12, 1), 9)):
        services.indicator_return_enter(
            indicator=indicator, month=month, value=value, by=personas["manager"]
        )
    periods = {p.label: p for p in indicator_report(indicator, MONTHS).periods}
    assert periods["2018-19 Q3"].value == 31 and periods["2018-19 Q3"].rag.word == "On target"
    assert periods["2018-19 Q4"].value is None  # only January and February of it


def test_a_return_is_audited_with_who_and_when_and_a_correction_keeps_both(personas):
    indicator = _manual()
    user = personas["manager"]
    membership = Membership.objects.get(user=user)
    before = AuditEvent.objects.count()
    services.indicator_return_enter(
        indicator=indicator, month=date(2019, 1, 1), value="4", by=user, membership=membership
    )
    services.indicator_return_enter(
        indicator=indicator, month=date(2019, 1, 1), value="5", by=user, membership=membership,
        note="one breach recorded late",
    )  # fmt: skip
    events = list(AuditEvent.objects.order_by("seq")[before:])
    assert [e.action for e in events] == [AuditAction.COLLECTION, AuditAction.ALTERATION]
    assert all(e.actor == "manager" and e.target_id == str(indicator.pk) for e in events)
    assert events[1].before == {"value": "4", "note": ""}
    assert events[1].after == {"value": "5", "note": "one breach recorded late"}
    assert events[0].detail["month"] == "2019-01"
    value = indicator.values.get()
    assert value.value == 5 and value.entered_by == user


def test_only_the_owner_organisation_and_managers_may_enter_a_return(personas):
    indicator = _manual()
    analyst = Membership.objects.get(user=personas["analyst"])  # Cleveland Police
    with pytest.raises(NotPermitted):
        services.indicator_return_enter(
            indicator=indicator, month=date(2019, 1, 1), value=1, by=personas["analyst"],
            membership=analyst,
        )  # fmt: skip
    assert not indicator.values.exists()


def test_bad_returns_are_refused_with_the_field_named(personas):
    indicator = _manual()
    with pytest.raises(services.ReturnRefused, match="value: 'lots' is not a number"):
        services.indicator_return_enter(
            indicator=indicator, month=date(2019, 1, 1), value="lots", by=personas["manager"]
        )
    future = timezone.localdate().replace(day=1).replace(year=timezone.localdate().year + 1)
    with pytest.raises(services.ReturnRefused, match="is in the future"):
        services.indicator_return_enter(
            indicator=indicator, month=future, value=1, by=personas["manager"]
        )
    with pytest.raises(services.ReturnRefused, match="takes no manual returns"):
        services.indicator_return_enter(
            indicator=_computed(), month=date(2019, 1, 1), value=1, by=personas["manager"]
        )


def test_the_source_is_pluggable(personas):
    indicator = _manual(name="Cases opened")
    indicator.source = "cases"
    with pytest.raises(BadQuery, match="source 'cases'; known: incidents, manual"):
        indicator_report(indicator, MONTHS)

    @provider("cases")
    class Cases:
        label = "From cases"

        def values(self, indicator, months):
            return {m: 3.0 for m in months}

        def force_comparison(self, indicator, months):
            return None

    try:
        report = indicator_report(indicator, MONTHS)
        assert report.provider_label == "From cases" and report.latest.value == 3.0
    finally:
        del PROVIDERS["cases"]


def test_the_indicators_command_prints_table_and_json(personas):
    _computed()
    _manual(target=Decimal(10), tolerance=Decimal(2))
    out = StringIO()
    call_command("csp_indicators", "--partnership", MIDDLESBROUGH, stdout=out, stderr=StringIO())
    assert "ASB in Middlesbrough" in out.getvalue() and "PSPO breaches" in out.getvalue()
    out = StringIO()
    call_command("csp_indicators", "--partnership", MIDDLESBROUGH, "--format", "json", stdout=out)
    data = {d["indicator"]: d for d in json.loads(out.getvalue())}
    assert data["PSPO breaches"]["rag"] == "No data"
    asb = data["ASB in Middlesbrough"]
    assert asb["latest_period"] == "2019-02" and len(asb["force"]) == 4


def test_the_indicator_page_shows_gaps_and_the_return_form_to_the_owner_only(personas):
    indicator = _manual()
    url = reverse("indicators:detail", args=[MIDDLESBROUGH, indicator.uuid])
    client = Client()
    client.force_login(personas["data_manager"])  # Middlesbrough Council: the owner
    page = client.get(url).content.decode()
    assert "Gap: no data" in page and 'id="enter-return"' in page
    client.force_login(personas["analyst"])  # Cleveland Police: reads, no form
    page = client.get(url).content.decode()
    assert 'id="enter-return"' not in page
    post = reverse("indicators:enter_return", args=[MIDDLESBROUGH, indicator.uuid])
    assert client.post(post, {"month": "2019-01", "value": "3"}).status_code == 403
    client.force_login(personas["data_manager"])
    response = client.post(post, {"month": "2019-01", "value": "3"})
    assert response.status_code == 302
    assert indicator.values.get().value == 3
    response = client.post(post, {"month": "January", "value": "3"})
    assert response.status_code == 400 and "Enter the month as YYYY-MM" in response.content.decode()


def test_an_indicator_of_another_partnership_is_404(personas):
    indicator = _manual()
    client = Client()
    client.force_login(personas["outsider"])
    assert (
        client.get(reverse("indicators:detail", args=["hartlepool", indicator.uuid])).status_code
        == 404
    )


@pytest.fixture
def plan_with_actions(personas):
    plan = Plan.objects.create(partnership=_partnership(), title="Delivery plan 2018-19")
    priority = Priority.objects.create(plan=plan, number=1, title="Reducing ASB")
    objective = Objective.objects.create(plan=plan, priority=priority, text="Tackle ASB hotspots")
    red = Action.objects.create(plan=plan, objective=objective, text="Target the town centre")
    green = Action.objects.create(plan=plan, objective=objective, text="Run youth diversion")
    late = Action.objects.create(
        plan=plan, objective=objective, text="Review CCTV", due_date=date(2019, 1, 31)
    )
    now = timezone.make_aware(datetime(2019, 3, 1))
    for action, rag in ((red, "red"), (green, "green")):
        QuarterlyUpdate.objects.create(
            action=action, fiscal_year=2018, quarter=3, rag=rag, commentary=f"{rag} update",
            entered_at=now,
        )  # fmt: skip
    middlehaven = Area.objects.filter(level="ward").order_by("-generation").first()
    red.areas.add(middlehaven)
    red.start_date = date(2019, 1, 1)
    red.save()
    from csp_platform.incidents.models import Category

    red.categories.add(Category.objects.get(code="anti-social-behaviour"))
    _computed()
    return plan, red, green, late


def test_the_board_report_page_and_docx_carry_the_same_sections(personas, plan_with_actions):
    plan, red, _, late = plan_with_actions
    client = Client()
    client.force_login(personas["councillor"])
    page = client.get(reverse("indicators:board", args=[MIDDLESBROUGH])).content.decode()
    assert "Progress by priority" in page and "Reducing ASB" in page
    assert "Target the town centre" in page and "Red: off track" in page
    assert "Review CCTV" in page and "overdue (due 31 January 2019)" in page
    assert "ASB in Middlesbrough" in page
    # The evaluation refuses: 2 months before the start and 2 after are too few.
    assert "No verdict: at least 3 months are needed before and after the start" in page
    response = client.get(reverse("indicators:board_docx", args=[MIDDLESBROUGH]))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    doc = Document(io.BytesIO(response.content))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings == [
        "Progress by priority",
        "Exceptions: red, amber and overdue actions",
        "Indicators against target",
        "Did it work? Outcome verdicts",
    ]
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert "Reducing ASB" in cells and "Review CCTV" in cells and "ASB in Middlesbrough" in cells
    totals = doc.tables[0].rows[-1].cells
    assert totals[0].text == "All priorities" and totals[1].text == "3"


def test_the_plan_and_action_pages_show_the_outcome_beside_the_delivery_status(
    personas, plan_with_actions
):
    plan, red, green, _ = plan_with_actions
    client = Client()
    client.force_login(personas["officer"])
    page = client.get(reverse("plans:plan", args=[MIDDLESBROUGH, plan.uuid])).content.decode()
    assert page.count('data-outcome="refused"') == 1  # only the action with area and start
    ActionIndicator.objects.create(
        action=red, indicator=Indicator.objects.get(name="ASB in Middlesbrough")
    )
    page = client.get(reverse("plans:action", args=[MIDDLESBROUGH, red.uuid])).content.decode()
    assert 'id="evaluation"' in page and "Red: off track" in page
    assert "No verdict: at least 3 months are needed before and after the start" in page
    assert 'id="action-indicators"' in page and "ASB in Middlesbrough" in page
    rows = csp_json(
        "csp_counts", "--by", "month", "--area", MIDDLESBROUGH_CODE, "--from", "2019-02",
        "--category", "anti-social-behaviour",
    )  # fmt: skip
    assert f"2019-02: {rows[0]['incidents']:,}" in page  # the latest month, as csp counts
    page = client.get(reverse("plans:action", args=[MIDDLESBROUGH, green.uuid])).content.decode()
    assert "Not evaluated: the action has no linked area; the action has no start date" in page


def test_an_action_whose_theme_holds_no_categories_says_so_on_its_page(personas, plan_with_actions):
    from csp_platform.incidents.models import Theme

    _, red, _, _ = plan_with_actions
    red.categories.clear()
    red.incident_themes.add(Theme.objects.create(code="empty-theme", name="Empty theme"))
    client = Client()
    client.force_login(personas["councillor"])
    response = client.get(reverse("plans:action", args=[MIDDLESBROUGH, red.uuid]))
    assert response.status_code == 200
    assert "Not evaluated: the action&#x27;s incident themes hold no categories." in (
        response.content.decode()
    )


def test_the_demo_indicators_are_linked_to_the_seed_actions_and_the_link_is_audited(personas):
    from csp_platform.plans import services as plan_services
    from tests.conftest import DATA

    plan_services.plan_import(
        next((DATA.parent / "seeds").glob("000_*.txt")), partnership_slug=MIDDLESBROUGH, by="t"
    )
    made = services.demo_indicators_load(MIDDLESBROUGH)
    assert len(made) == 11 and services.demo_indicators_load(MIDDLESBROUGH) == made  # idempotent
    pmf = Action.objects.get(text__icontains="performance management framework to include warn")
    assert sorted(pmf.indicators.values_list("name", flat=True)) == sorted(
        name for name, _ in services.ENFORCEMENT_RETURNS
    )
    monthly = Action.objects.get(text__icontains="Monthly reporting of crime stats")
    assert monthly.indicators.count() == 2
    client = Client()
    client.force_login(personas["manager"])
    page = client.get(reverse("plans:action", args=[MIDDLESBROUGH, pmf.uuid])).content.decode()
    assert "PSPO breaches" in page  # in the indicators table and in the edit history
    assert "<strong>Indicators</strong>: from" in page  # the links in the edit history
    linked = AuditEvent.objects.filter(target_type="plans.action", target_id=str(pmf.uuid))
    assert linked.filter(action=AuditAction.ALTERATION).count() == 9


def test_a_ward_rate_indicator_matches_csp_counts_for_the_ward(personas):
    ward = Area.objects.get(level="ward", code=MIDDLEHAVEN)
    indicator = services.indicator_create(
        partnership=_partnership(), name="ASB per 1,000 residents in Middlehaven",
        source="incidents", by="test",
        spec={"area": {"code": MIDDLEHAVEN, "generation": ward.generation},
              "categories": ["anti-social-behaviour"], "measure": "rate_per_1000"},
    )  # fmt: skip
    rows = csp_json(
        "csp_counts", "--by", "month", "--area", MIDDLEHAVEN, "--category", "anti-social-behaviour"
    )
    values = dict(indicator_report(indicator, MONTHS).values)
    assert ward.population
    for r in rows:
        month = date.fromisoformat(r["month"] + "-01")
        assert values[month] == pytest.approx(r["incidents"] * 1000 / ward.population)
    # a ward's force comparison is its district's against the rest of the force
    comparison = indicator_report(indicator, MONTHS).comparison
    assert comparison is not None and comparison.ours is not None
    assert comparison.ours.code == MIDDLESBROUGH_CODE
