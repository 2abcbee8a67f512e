"""csp import-plan on the real seed plans, the plan services' audit and policy, and the
XLSX and DOCX exports read back (docs/plans.md).

The expected counts were taken by hand from the seed text, not from the importer:

Seed 000 (Middlesbrough delivery plan): three "Priority N - ..." lines. 97 lines hold a
tab; 12 of them are the repeated "Objective<TAB>Action..." header rows and 2 are Markdown
rules ("--<TAB>---"), so 83 action rows, each with text in "Update/ Comments" (83
updates). 13 rows start a new objective (a non-empty first cell), and one priority
objective ("Protecting children from harm ... night time economy") has no table: 14
objectives. The last column read by eye: "MBC" alone 53 times and in 9 combined cells
("MBC/ Cleveland Police", "Cleveland Police/MBC", "MBC/YOS" x2, ...): 62 actions led by
Middlesbrough Council; "Cleveland Police" alone 10 times and in 6 combined cells: 16;
"Cleveland Fire" once. "Public Health" twice and "YOS" three times match no partner.
Three rows have an empty lead.

Seed 001 (scrutiny): six rows, a) to f); timescales "December 2022" x3, "October 2022",
"Ongoing" x2.

Seed 002 (Redcar & Cleveland): two "Theme<TAB>Action" tables of 14 and 5 rows: 19 actions
under 8 themes; priorities "Reduction", "Prevention", "Engagement".
"""

from __future__ import annotations

from datetime import date
from io import BytesIO, StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from docx import Document
from openpyxl import load_workbook

from csp_platform.core import services as core_services
from csp_platform.core.errors import ImportRejected, NotPermitted
from csp_platform.core.models import (
    AuditAction,
    AuditEvent,
    Membership,
    Organisation,
    Partnership,
    Role,
)
from csp_platform.demo import services as demo_services
from csp_platform.plans import exports, selectors, services
from csp_platform.plans.models import (
    Action,
    Objective,
    Plan,
    PlanTheme,
    Priority,
    QuarterlyUpdate,
    Rag,
    ScrutinyRecommendation,
)
from csp_platform.plans.parsing import clean_cell, match_score, parse_due_date
from tests.conftest import SHARED

SEEDS = SHARED / "seeds"
pytestmark = pytest.mark.django_db


def seed(prefix: str) -> Path:
    return next(SEEDS.glob(f"{prefix}_*.txt"))


@pytest.fixture
def partnerships(db: None) -> list[Partnership]:
    return demo_services.partnerships_cleveland_ensure()


def _counts() -> dict[str, int]:
    return {
        "plans": Plan.objects.count(),
        "priorities": Priority.objects.count(),
        "objectives": Objective.objects.count(),
        "themes": PlanTheme.objects.count(),
        "actions": Action.objects.count(),
        "updates": QuarterlyUpdate.objects.count(),
        "recommendations": ScrutinyRecommendation.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def test_seed_000_delivery_plan_imports_whole(partnerships):
    report = services.plan_import(seed("000"), partnership_slug="middlesbrough")
    plan = Plan.objects.get()
    assert plan.partnership.slug == "middlesbrough"
    assert plan.title == "Community Safety Delivery Plan 2020-2022 – Revised May 2021"
    assert (plan.period_start, plan.period_end) == (date(2020, 4, 1), date(2022, 3, 31))
    assert (report.priorities, report.objectives, report.actions, report.updates) == (
        3,
        14,
        83,
        83,
    )
    assert Action.objects.filter(plan=plan).count() == 83
    assert QuarterlyUpdate.objects.filter(action__plan=plan).count() == 83
    assert [p.title for p in plan.priorities.order_by("order")] == [
        "Perceptions and Feeling Safe",
        "Tackling the Root Causes",
        "Locality Working, Inc. Town Centre",
    ]
    council = Organisation.objects.get(slug="middlesbrough-council")
    police = Organisation.objects.get(slug="cleveland-police")
    fire = Organisation.objects.get(slug="cleveland-fire-brigade")
    assert council.led_actions.count() == 62
    assert police.led_actions.count() == 16
    assert fire.led_actions.count() == 1
    assert Action.objects.filter(lead_text="").count() == 3
    # What could not be placed is named, with its line.
    unplaced = "\n".join(report.unplaced)
    assert unplaced.count("'Public Health'") == 2
    assert unplaced.count("'YOS'") == 3
    assert len(report.unplaced) == 5
    # The objective written differently from the priority's list is matched, and says so.
    crime = Objective.objects.get(text="Reducing crime, ASB & environmental crime")
    assert crime.priority.title == "Perceptions and Feeling Safe"
    assert crime.priority_text == (
        "Reducing crime and anti-social behaviour (Inc. environmental crime)"
    )
    drugs = Objective.objects.get(text="Reduce the harm caused by substance use")
    assert drugs.priority.title == "Tackling the Root Causes"
    assert drugs.priority_text == "Reduce substance misuse"
    assert any("'Reduce substance misuse'" in note for note in report.notes)
    listed = Objective.objects.get(text__startswith="Protecting children from harm")
    assert listed.priority.number == 3 and not listed.actions.exists()
    # Every objective has a priority; each action its objective.
    assert not Objective.objects.filter(priority=None).exists()
    assert not Action.objects.filter(objective=None).exists()
    # Objectives carried down blank cells: the action on line 39 is under line 37's.
    assert Action.objects.get(source_line=39).objective == crime
    # HTML cleaned to readable text with bullets.
    for text in QuarterlyUpdate.objects.values_list("commentary", flat=True):
        assert "<" not in text and ">" not in text
    covid = Action.objects.get(text="Covid-19").updates.get()
    assert covid.commentary.splitlines()[0] == (
        "• Ensuring uptake of vaccine in low uptake communities"
    )
    assert covid.quarter_label == "2021-22 Q1"  # "Revised May 2021"
    # Posts in the "Lead Officer" column are kept as the lead officer.
    post = Action.objects.get(source_line=90)
    assert post.lead_officer == "Head of Service Partnerships, Children's services"
    assert not post.lead_organisations.exists()


def test_seed_001_scrutiny_plan_imports_whole(partnerships):
    report = services.plan_import(seed("001"))  # the document names Middlesbrough
    assert report.partnership == "middlesbrough"
    assert report.recommendations == 6
    recs = list(ScrutinyRecommendation.objects.order_by("order"))
    assert [r.letter for r in recs] == ["a", "b", "c", "d", "e", "f"]
    assert recs[0].recommendation.startswith("That a general awareness session")
    assert recs[0].post_title == "Head of Stronger Communities"
    assert recs[0].budget_cost == "N/A"
    assert recs[0].timescale == "December 2022"
    assert recs[0].due_date == date(2022, 12, 31)
    assert recs[1].due_date == date(2022, 10, 31)
    assert (recs[2].timescale, recs[2].due_date, recs[2].budget_cost) == ("Ongoing", None, "????")
    assert recs[2].plan.kind == Plan.Kind.SCRUTINY


def test_seed_002_theme_tables_import_whole(partnerships):
    report = services.plan_import(seed("002"), partnership_slug="redcar-cleveland")
    plan = Plan.objects.get()
    assert plan.title == "Redcar and Cleveland Community Safety Plan 2024-27"
    assert (report.priorities, report.themes, report.actions) == (3, 8, 19)
    assert report.unplaced == []
    under = {t.name: t.priority.title for t in plan.themes.all()}
    assert under == {
        "Antisocial Behaviour": "Reduction",
        "Crime": "Reduction",
        "Serious Violence": "Reduction",
        "Exploitation": "Prevention",
        "Domestic Abuse": "Prevention",
        "Campaigns": "Engagement",
        "Advise & Inform Communities": "Engagement",
        "Encourage & Support Reporting": "Engagement",
    }
    assert plan.actions.filter(theme__name="Antisocial Behaviour").count() == 4
    assert plan.actions.filter(theme__name="Domestic Abuse").count() == 3


def test_a_second_import_changes_nothing(partnerships):
    services.plan_import(seed("000"), partnership_slug="middlesbrough")
    before = _counts()
    report = services.plan_import(seed("000"), partnership_slug="middlesbrough")
    assert report.unchanged
    assert _counts() == before


def test_dry_run_writes_nothing_and_reports_the_same(partnerships):
    before = _counts()
    dry = services.plan_import(seed("000"), partnership_slug="middlesbrough", dry_run=True)
    assert _counts() == before
    assert (dry.actions, dry.updates, len(dry.unplaced)) == (83, 83, 5)


def test_a_malformed_file_is_refused_with_file_and_line_and_writes_nothing(partnerships, tmp_path):
    lines = seed("000").read_text(encoding="utf-8").splitlines()
    # Line 120 (an action row) gets a ninth column: the whole file is refused.
    lines[119] = lines[119] + "\textra"
    bad = tmp_path / "bad-plan.txt"
    bad.write_text("\n".join(lines), encoding="utf-8")
    before = _counts()
    with pytest.raises(ImportRejected, match=r"bad-plan\.txt, line 120: 9 columns"):
        services.plan_import(bad, partnership_slug="middlesbrough")
    assert _counts() == before


def test_a_quarter_cell_that_is_not_a_status_is_refused(partnerships, tmp_path):
    lines = seed("000").read_text(encoding="utf-8").splitlines()
    cells = lines[36].split("\t")  # line 37, the first action
    cells[3] = "Greenish"
    lines[36] = "\t".join(cells)
    bad = tmp_path / "q.txt"
    bad.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ImportRejected, match=r"q\.txt, line 37: Q1 'Greenish' is not a status"):
        services.plan_import(bad, partnership_slug="middlesbrough")


def test_a_file_without_a_plan_table_is_refused(partnerships):
    with pytest.raises(ImportRejected, match="no plan table found"):
        services.plan_import(seed("003"), partnership_slug="middlesbrough")


def test_the_command_prints_what_it_made_and_refuses_bad_files(partnerships, tmp_path):
    out = StringIO()
    call_command("csp_import_plan", str(seed("000")), "--partnership", "middlesbrough", stdout=out)
    text = out.getvalue()
    assert "made 3 priorities, 14 objectives, 0 themes, 83 actions, 83 updates," in text
    assert "line 105: lead 'YOS' matched no organisation of middlesbrough" in text
    again = StringIO()
    call_command("csp_import_plan", str(seed("000")), stdout=again)
    assert "nothing changed" in again.getvalue()
    bad = tmp_path / "empty.txt"
    bad.write_text("just words\n", encoding="utf-8")
    with pytest.raises(CommandError, match="empty.txt: no plan table found"):
        call_command("csp_import_plan", str(bad), "--partnership", "middlesbrough")


# ----------------------------------------------------------------------------------------
# Parsing rules, on hand-worked examples


def test_timescales_read_as_dates_only_where_there_is_one():
    assert parse_due_date("December 2022") == date(2022, 12, 31)
    assert parse_due_date("31 March 2022") == date(2022, 3, 31)
    assert parse_due_date("Q3 2022-23") == date(2022, 12, 31)
    assert parse_due_date("Q4 2022-23") == date(2023, 3, 31)
    assert parse_due_date("Mar 22") == date(2022, 3, 31)
    for words in ("Ongoing", "TBC", "N/A", "????", ""):
        assert parse_due_date(words) is None


def test_html_fragments_become_bullets():
    raw = '<p>Focusing on:</p> <ul style="list-style-type: none"> • BAME • Travellers</ul>'
    assert clean_cell(raw) == "Focusing on:\n• BAME\n• Travellers"
    assert clean_cell("<ul><li>One</li><li>Two &amp; three</li></ul>") == ("• One\n• Two & three")


def test_word_match_scores():
    # all three content words of the shorter phrase are in the longer one
    assert (
        match_score(
            "Reducing crime, ASB & environmental crime",
            "Reducing crime and anti-social behaviour (Inc. environmental crime)",
        )
        == 1.0
    )
    # "reduce" of {reduce, domestic, violence}: one word in three
    assert match_score("Reduce begging", "Reduce domestic violence") == 0.5
    assert match_score("Improve mental health", "Reduce begging") == 0.0


# ----------------------------------------------------------------------------------------
# Services: audit and policy


def _member(partnership: Partnership, org_slug: str, role: Role, name: str) -> Membership:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username=name, password="x" * 20)
    return core_services.membership_set(
        user=user,
        partnership=partnership,
        organisation=Organisation.objects.get(slug=org_slug),
        role=role,
    )


def test_an_edit_is_audited_from_what_to_what_and_read_back_as_history(partnerships):
    services.plan_import(seed("000"), partnership_slug="middlesbrough")
    boro = Partnership.objects.get(slug="middlesbrough")
    manager = _member(boro, "middlesbrough-council", Role.PARTNERSHIP_MANAGER, "mgr")
    action = Action.objects.get(source_line=37)
    services.action_update(
        action=action,
        by=manager.user,
        membership=manager,
        timescale="March 2022",
        lead_officer="Community Safety Analyst",
    )
    action.refresh_from_db()
    assert action.due_date == date(2022, 3, 31)
    history = list(selectors.action_history(action))
    assert [e.action for e in history] == [AuditAction.ALTERATION, AuditAction.COLLECTION]
    edit = history[0]
    assert edit.actor == "mgr" and edit.organisation == "Middlesbrough Council"
    assert edit.before == {"due_date": None, "lead_officer": "", "timescale": ""}
    assert edit.after == {
        "due_date": "2022-03-31",
        "lead_officer": "Community Safety Analyst",
        "timescale": "March 2022",
    }
    assert history[1].detail["line"] == 37


def test_a_failed_edit_leaves_neither_change_nor_audit_event(partnerships):
    services.plan_import(seed("000"), partnership_slug="middlesbrough")
    boro = Partnership.objects.get(slug="middlesbrough")
    manager = _member(boro, "middlesbrough-council", Role.PARTNERSHIP_MANAGER, "mgr")
    action = Action.objects.get(source_line=37)
    outsider_org = Organisation.objects.get(slug="hartlepool-council")
    before = AuditEvent.objects.count()
    with pytest.raises(ImportRejected, match="not an organisation of the partnership"):
        services.action_update(
            action=action,
            by=manager.user,
            membership=manager,
            text="changed",
            lead_organisations=[outsider_org],
        )
    action.refresh_from_db()
    assert action.text.startswith("Introduction of AIM")
    assert AuditEvent.objects.count() == before


def test_only_a_lead_organisation_or_a_manager_may_enter_an_update(partnerships):
    services.plan_import(seed("000"), partnership_slug="middlesbrough")
    boro = Partnership.objects.get(slug="middlesbrough")
    fire_officer = _member(boro, "cleveland-fire-brigade", Role.PARTNER_OFFICER, "fire")
    councillor = _member(boro, "middlesbrough-council", Role.COUNCILLOR, "cllr")
    manager = _member(boro, "middlesbrough-council", Role.PARTNERSHIP_MANAGER, "mgr")
    fires = Action.objects.get(lead_organisations__slug="cleveland-fire-brigade")
    council_action = Action.objects.get(source_line=37)  # led by MBC
    update = services.quarterly_update_add(
        action=fires,
        by=fire_officer.user,
        membership=fire_officer,
        fiscal_year=2021,
        quarter=2,
        commentary="Heat maps shared at AIM",
        rag=Rag.GREEN,
    )
    assert update.quarter_label == "2021-22 Q2" and update.entered_by == fire_officer.user
    for who in (fire_officer, councillor):
        with pytest.raises(NotPermitted):
            services.quarterly_update_add(
                action=council_action,
                by=who.user,
                membership=who,
                fiscal_year=2021,
                quarter=2,
                commentary="x",
                rag=Rag.RED,
            )
    services.quarterly_update_add(
        action=council_action,
        by=manager.user,
        membership=manager,
        fiscal_year=2021,
        quarter=2,
        commentary="On track",
        rag=Rag.AMBER,
    )
    assert selectors.current_rag(selectors.action_get_for(manager, council_action.uuid)) == (
        Rag.AMBER
    )
    event = selectors.action_history(fires).first()
    assert event.after["status"] == "Green: on track"


def test_an_action_of_another_partnership_is_404(partnerships):
    from django.http import Http404

    services.plan_import(seed("002"), partnership_slug="redcar-cleveland")
    boro = Partnership.objects.get(slug="middlesbrough")
    member = _member(boro, "middlesbrough-council", Role.PARTNERSHIP_MANAGER, "mgr")
    redcar_action = Action.objects.first()
    with pytest.raises(Http404):
        selectors.action_get_for(member, redcar_action.uuid)
    assert list(selectors.plan_list_visible_to(member)) == []


# ----------------------------------------------------------------------------------------
# Exports, read back


def test_xlsx_export_reads_back_as_the_original_table(partnerships):
    services.plan_import(seed("000"), partnership_slug="middlesbrough")
    plan = Plan.objects.get()
    book = load_workbook(BytesIO(exports.plan_xlsx(plan)))
    rows = [
        [c if c is not None else "" for c in row] for row in book.active.iter_rows(values_only=True)
    ]
    assert rows[0][0] == plan.title
    headers = [r for r in rows if r[:2] == ["Objective", "Action"]]
    assert len(headers) == 13  # one table per objective with actions
    assert headers[0] == exports.DELIVERY_COLUMNS
    data = [r for r in rows if len(r) >= 8 and r[1] and r[:2] != ["Objective", "Action"]]
    assert len(data) == 83
    first = next(r for r in data if r[0] == "Reducing crime, ASB & environmental crime")
    assert first[1].startswith("Introduction of AIM to refocus work")
    assert first[2].startswith("Completed This also compliments")
    assert first[7] == "MBC"
    assert "Priority 2 - Tackling the Root Causes" in [r[0] for r in rows]


def test_docx_export_reads_back_as_the_original_tables(partnerships):
    services.plan_import(seed("000"), partnership_slug="middlesbrough")
    plan = Plan.objects.get()
    action = Action.objects.get(source_line=38)  # "Monthly reporting of crime stats ..."
    services.quarterly_update_add(
        action=action,
        by="test",
        membership=None,
        fiscal_year=2021,
        quarter=3,
        commentary="Monthly report in place",
        rag=Rag.GREEN,
    )
    document = Document(BytesIO(exports.plan_docx(plan)))
    assert document.paragraphs[0].text == plan.title
    assert len(document.tables) == 13
    cells = [[c.text for c in row.cells] for t in document.tables for row in t.rows]
    assert sum(1 for r in cells if r[:2] == ["Objective", "Action"]) == 13
    body = [r for r in cells if r[:2] != ["Objective", "Action"]]
    assert len(body) == 83
    row = next(r for r in body if r[1] == action.text)
    assert row[2] == "Monthly report in place"
    assert row[5] == "✓ Green: on track"  # Q3, word and symbol
    assert row[7] == "MBC / Cleveland Police"


def test_scrutiny_and_theme_plans_export_their_own_columns(partnerships):
    services.plan_import(seed("001"), partnership_slug="middlesbrough")
    services.plan_import(seed("002"), partnership_slug="redcar-cleveland")
    scrutiny = Plan.objects.get(kind=Plan.Kind.SCRUTINY)
    sheet = load_workbook(BytesIO(exports.plan_xlsx(scrutiny))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[2][:5]) == exports.SCRUTINY_COLUMNS
    assert rows[3][0].startswith("a) That a general awareness session")
    assert rows[3][4] == "December 2022"
    themes = Plan.objects.get(kind=Plan.Kind.STRATEGY)
    document = Document(BytesIO(exports.plan_docx(themes)))
    body = [[c.text for c in r.cells] for t in document.tables for r in t.rows[1:]]
    assert len(body) == 19
    assert ["Crime", "Develop drone capacity"] in body


def test_the_demo_loads_the_three_seed_plans_once(partnerships):
    reports = services.demo_plans_load(SEEDS)
    assert [(r.partnership, r.kind, r.actions, r.recommendations) for r in reports] == [
        ("middlesbrough", "delivery", 83, 0),
        ("middlesbrough", "scrutiny", 0, 6),
        ("redcar-cleveland", "strategy", 19, 0),
    ]
    before = _counts()
    assert all(r.unchanged for r in services.demo_plans_load(SEEDS))
    assert _counts() == before


def test_a_recommendation_update_changes_its_status_audited(partnerships):
    services.plan_import(seed("001"), partnership_slug="middlesbrough")
    boro = Partnership.objects.get(slug="middlesbrough")
    manager = _member(boro, "middlesbrough-council", Role.PARTNERSHIP_MANAGER, "mgr")
    officer = _member(boro, "cleveland-police", Role.PARTNER_OFFICER, "pc")
    rec = ScrutinyRecommendation.objects.get(letter="a")
    with pytest.raises(NotPermitted):
        services.recommendation_update_add(
            recommendation=rec,
            by=officer.user,
            membership=officer,
            commentary="Done",
            status="complete",
        )
    services.recommendation_update_add(
        recommendation=rec,
        by=manager.user,
        membership=manager,
        commentary="Briefing held for all members on 5 December 2022",
        status="complete",
    )
    rec.refresh_from_db()
    assert rec.status == "complete" and rec.updates.count() == 1
    event = AuditEvent.objects.get(target_type="plans.scrutinyrecommendation")
    assert (event.before, event.after["status"], event.actor) == (
        {"status": "open"},
        "complete",
        "mgr",
    )


def test_a_file_that_is_not_utf8_is_refused_with_its_line(partnerships, tmp_path):
    raw = seed("000").read_bytes().split(b"\n")
    raw[4] = raw[4] + b" \xff"
    bad = tmp_path / "latin.txt"
    bad.write_bytes(b"\n".join(raw))
    with pytest.raises(ImportRejected, match=r"latin\.txt, line 5: not UTF-8 text"):
        services.plan_import(bad, partnership_slug="middlesbrough")
    assert not Plan.objects.exists()


def test_a_different_file_with_an_existing_plans_title_is_refused(partnerships, tmp_path):
    services.plan_import(seed("000"), partnership_slug="middlesbrough")
    changed = tmp_path / "revised.txt"
    changed.write_text(seed("000").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(ImportRejected, match="already has a plan titled"):
        services.plan_import(changed, partnership_slug="middlesbrough")
    assert Plan.objects.count() == 1
