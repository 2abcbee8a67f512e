"""The plan pages through the test client: the tree and its filters, the action page with
its updates and audited history, editing, and quarterly updates under the policy."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from csp_platform.core.models import AuditAction, AuditEvent
from csp_platform.plans import services
from csp_platform.plans.models import Action, Plan, QuarterlyUpdate, Rag
from tests.conftest import SHARED
from tests.platform.web.conftest import MIDDLESBROUGH, client_for

SEED_000 = next((SHARED / "seeds").glob("000_*.txt"))


@pytest.fixture
def plan(personas) -> Plan:
    services.plan_import(SEED_000, partnership_slug=MIDDLESBROUGH)
    return Plan.objects.get(partnership__slug=MIDDLESBROUGH)


def _plan_url(plan: Plan, query: str = "") -> str:
    url = reverse("plans:plan", kwargs={"partnership": MIDDLESBROUGH, "plan": plan.uuid})
    return f"{url}?{query}" if query else url


def _action_url(action: Action, name: str = "plans:action") -> str:
    return reverse(name, kwargs={"partnership": MIDDLESBROUGH, "action": action.uuid})


def test_the_plan_tree_shows_priorities_objectives_and_actions(personas, plan):
    page = client_for(personas, "councillor").get(_plan_url(plan)).content.decode()
    assert "Showing 83 of 83 actions." in page
    assert "Priority 1: Perceptions and Feeling Safe" in page
    assert "Objective: Reducing crime, ASB &amp; environmental crime" in page
    assert page.count('data-action="') == 83
    # every action shows its status in words (none has one yet)
    assert page.count('csp-rag">No status yet<') == 83


def test_the_filters_choose_actions(personas, plan):
    client = client_for(personas, "manager")
    fire = Action.objects.get(lead_organisations__slug="cleveland-fire-brigade")
    fire_org = fire.lead_organisations.get()
    page = client.get(_plan_url(plan, f"organisation={fire_org.pk}")).content.decode()
    assert "Showing 1 of 83 actions." in page and str(fire.uuid) in page
    priority = plan.priorities.get(number=3)
    page = client.get(_plan_url(plan, f"priority={priority.pk}")).content.decode()
    # Priority 3's tables by hand: 6 + 4 + 4 + 4 + 6 + 2 actions (lines 118-154)
    assert "Showing 26 of 83 actions." in page
    services.quarterly_update_add(
        action=fire,
        by="test",
        membership=None,
        fiscal_year=2021,
        quarter=2,
        commentary="Behind",
        rag=Rag.RED,
    )
    page = client.get(_plan_url(plan, "rag=red")).content.decode()
    assert "Showing 1 of 83 actions." in page
    assert "Red: off track" in page and "✕" in page
    Action.objects.filter(pk=fire.pk).update(due_date=date(2021, 6, 30))
    page = client.get(_plan_url(plan, "overdue=on")).content.decode()
    assert "Showing 1 of 83 actions." in page and "Overdue" in page


def test_a_lead_officer_enters_an_update_and_it_shows_with_its_word(personas, plan):
    fire = Action.objects.get(lead_organisations__slug="cleveland-fire-brigade")
    client = client_for(personas, "officer")  # Cleveland Fire Brigade
    page = client.get(_action_url(fire)).content.decode()
    assert "Enter a quarterly update" in page and "Edit the action" not in page
    response = client.post(
        _action_url(fire, "plans:action_update"),
        {
            "fiscal_year": "2021",
            "quarter": "2",
            "rag": "amber",
            "commentary": "Heat maps shared; two action plans agreed",
        },
    )
    assert response.status_code == 302
    update = QuarterlyUpdate.objects.get(action=fire, quarter=2)
    assert update.entered_by == personas["officer"] and update.rag == Rag.AMBER
    page = client.get(_action_url(fire)).content.decode()
    assert "2021-22 Q2" in page and "Amber: at risk" in page
    assert "Heat maps shared; two action plans agreed" in page


def test_updating_another_organisations_action_is_refused(personas, plan):
    council_action = Action.objects.get(source_line=37)  # MBC
    client = client_for(personas, "officer")  # Cleveland Fire Brigade
    assert (
        "Enter a quarterly update" not in client.get(_action_url(council_action)).content.decode()
    )
    before = AuditEvent.objects.count()
    response = client.post(
        _action_url(council_action, "plans:action_update"),
        {"fiscal_year": "2021", "quarter": "2", "rag": "green", "commentary": "Not mine"},
    )
    assert response.status_code == 403
    assert not QuarterlyUpdate.objects.filter(commentary="Not mine").exists()
    assert AuditEvent.objects.count() == before


def test_a_manager_edits_an_action_and_the_history_shows_from_what_to_what(personas, plan):
    action = Action.objects.get(source_line=37)
    client = client_for(personas, "manager")
    form = client.get(_action_url(action, "plans:action_edit"))
    assert form.status_code == 200
    initial = form.context["form"].initial
    data = {
        "parent": initial["parent"],
        "text": action.text,
        "lead_organisations": [o.pk for o in initial["lead_organisations"]],
        "lead_officer": "Community Safety Analyst",
        "budget": "",
        "timescale": "March 2022",
        "due_date": "",
        "start_date": "",
        "status": "in_progress",
    }
    response = client.post(_action_url(action, "plans:action_edit"), data)
    assert response.status_code == 302, response.content[:500]
    action.refresh_from_db()
    assert action.due_date == date(2022, 3, 31)
    page = client.get(_action_url(action)).content.decode()
    assert "Edit history" in page
    assert "from “(empty)” to “March 2022”" in page
    assert "from “(empty)” to “Community Safety Analyst”" in page
    event = AuditEvent.objects.filter(action=AuditAction.ALTERATION).get()
    assert event.actor == "manager" and event.target_id == str(action.uuid)


def test_a_bad_edit_shows_the_error_and_changes_nothing(personas, plan):
    action = Action.objects.get(source_line=37)
    client = client_for(personas, "manager")
    response = client.post(
        _action_url(action, "plans:action_edit"),
        {"parent": "objective:0", "text": "", "status": "in_progress", "due_date": "31/31/2022"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "There is a problem" in page and "govuk-error-message" in page
    action.refresh_from_db()
    assert action.text.startswith("Introduction of AIM")


def test_a_manager_adds_an_action(personas, plan):
    client = client_for(personas, "manager")
    objective = plan.objectives.get(text="Reduce begging")
    url = reverse("plans:action_add", kwargs={"partnership": MIDDLESBROUGH, "plan": plan.uuid})
    response = client.post(
        url,
        {
            "parent": f"objective:{objective.pk}",
            "text": "Begging outreach in the town centre with the homeless team",
            "timescale": "Q2 2022-23",
            "status": "not_started",
        },
    )
    assert response.status_code == 302
    made = Action.objects.get(text__startswith="Begging outreach")
    assert made.objective == objective and made.due_date == date(2022, 9, 30)
    assert (
        AuditEvent.objects.filter(
            action=AuditAction.COLLECTION, target_type="plans.action", target_id=str(made.uuid)
        ).count()
        == 1
    )


def test_the_downloads_are_the_plan(personas, plan):
    client = client_for(personas, "councillor")
    url = reverse(
        "plans:export", kwargs={"partnership": MIDDLESBROUGH, "plan": plan.uuid, "fmt": "xlsx"}
    )
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert client.get(url.replace("export.xlsx", "export.pdf")).status_code == 404


def test_the_plan_list_and_a_scrutiny_plan(personas, plan):
    services.plan_import(next((SHARED / "seeds").glob("001_*.txt")), partnership_slug=MIDDLESBROUGH)
    client = client_for(personas, "councillor")
    page = client.get(reverse("plans:plans", kwargs={"partnership": MIDDLESBROUGH})).content
    assert page.decode().count('<th scope="row"') == 2  # the two plans' rows
    scrutiny = Plan.objects.get(kind=Plan.Kind.SCRUTINY)
    page = client.get(_plan_url(scrutiny)).content.decode()
    assert page.count('<th scope="row"') == 6
    assert "a) That a general awareness session" in page
    assert "Head of Stronger Communities" in page and "December 2022" in page


def test_the_navigation_marks_plans_on_every_plan_page(personas, plan):
    action = Action.objects.get(source_line=37)
    client = client_for(personas, "manager")
    for url in (_plan_url(plan), _action_url(action), _action_url(action, "plans:action_edit")):
        page = client.get(url).content.decode()
        assert (
            '<a class="govuk-service-navigation__link" href="/p/middlesbrough/plans/"'
            ' aria-current="page">'
        ) in page, url
