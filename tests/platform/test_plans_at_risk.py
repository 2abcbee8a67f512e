"""Overdue and at-risk actions (plans/risk.py) and the weekly digest to each lead
(digest/services.py), on hand-made actions with their dates fixed in the test.

Financial quarters: 2026-27 Q1 is April-June 2026, Q2 July-September. "Today" is always
given (the rules take the Europe/London date; the job takes its scheduled time), so the
tests pin the clock without patching it.
"""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Schedule, Success
from django_q.scheduler import scheduler

from csp_platform.core.models import AuditAction, AuditEvent, Organisation, Role
from csp_platform.core.services import membership_set
from csp_platform.demo.services import partnerships_cleveland_ensure
from csp_platform.digest.models import DigestSent
from csp_platform.digest.services import send_weekly_digests
from csp_platform.plans.models import Action, Objective, Plan, Priority, QuarterlyUpdate, Rag
from csp_platform.plans.parsing import fiscal_quarter
from csp_platform.plans.risk import NO_UPDATE, OVERDUE, RED_AMBER, risks_of

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def plan() -> Plan:
    partnerships_cleveland_ensure()
    plan = Plan.objects.create(partnership_id=_mbro().pk, title="Test delivery plan")
    priority = Priority.objects.create(plan=plan, number=1, title="Feeling safe")
    Objective.objects.create(plan=plan, priority=priority, text="Reduce ASB")
    return plan


def _mbro():  # type: ignore[no-untyped-def]
    from csp_platform.core.models import Partnership

    return Partnership.objects.get(slug="middlesbrough")


def _action(plan: Plan, text: str, *, due: date | None = None, lead: str = "", officer: str = "",
            status: str = Action.Status.IN_PROGRESS) -> Action:  # fmt: skip
    action = Action.objects.create(
        plan=plan,
        objective=plan.objectives.get(),
        text=text,
        due_date=due,
        timescale=f"{due:%B %Y}" if due else "",
        lead_officer=officer,
        lead_text=lead,
        status=status,
        order=Action.objects.filter(plan=plan).count() + 1,
    )
    if lead:
        action.lead_organisations.add(Organisation.objects.get(slug=lead))
    return action


def _update(action: Action, fy: int | None, q: int | None, rag: str, at: datetime) -> None:
    QuarterlyUpdate.objects.create(
        action=action, fiscal_year=fy, quarter=q, rag=rag, commentary="x", entered_at=at
    )


def _kinds(action: Action, today: date) -> set[str]:
    fresh = Action.objects.prefetch_related("updates").get(pk=action.pk)
    return {r.kind for r in risks_of(fresh, today)}


JUNE = datetime(2026, 6, 10, 12, tzinfo=UTC)


def test_overdue_means_due_date_passed_and_open(plan):
    due = _action(plan, "Publish the strategy", due=date(2026, 6, 30))
    _update(due, 2026, 1, Rag.GREEN, JUNE)
    assert OVERDUE not in _kinds(due, date(2026, 6, 30))  # due today: not yet
    assert OVERDUE in _kinds(due, date(2026, 7, 1))
    done = _action(plan, "Done", due=date(2026, 5, 1), status=Action.Status.COMPLETE)
    assert _kinds(done, date(2026, 7, 1)) == set()
    blue = _action(plan, "Blue", due=date(2026, 5, 1))
    _update(blue, 2026, 1, Rag.BLUE, JUNE)
    assert _kinds(blue, date(2026, 7, 1)) == set()
    reason = next(
        r.reason
        for r in risks_of(Action.objects.get(pk=due.pk), date(2026, 7, 3))
        if r.kind == OVERDUE
    )
    assert reason.startswith("Due 30 June 2026") and "3 days ago" in reason


def test_no_update_this_quarter_across_the_quarter_boundary(plan):
    action = _action(plan, "Weekly patrols")
    _update(action, 2026, 1, Rag.GREEN, JUNE)
    assert NO_UPDATE not in _kinds(action, date(2026, 6, 30))  # last day of Q1
    assert NO_UPDATE in _kinds(action, date(2026, 7, 1))  # first day of Q2
    reason = next(
        r.reason
        for r in risks_of(Action.objects.get(pk=action.pk), date(2026, 7, 1))
        if r.kind == NO_UPDATE
    )
    assert reason == "No update for this quarter (2026-27 Q2); the last was for 2026-27 Q1."
    # An update that names no quarter belongs to the London day it was entered: 23:30 UTC
    # on 30 June is 00:30 on 1 July in London (BST), so it counts for Q2.
    other = _action(plan, "Imported comment")
    _update(other, None, None, "", datetime(2026, 6, 30, 23, 30, tzinfo=UTC))
    assert NO_UPDATE not in _kinds(other, date(2026, 7, 1))
    never = _action(plan, "Never updated")
    assert (
        "it has never had one"
        in risks_of(Action.objects.get(pk=never.pk), date(2026, 7, 1))[0].reason
    )


def test_red_or_amber_two_quarters_running(plan):
    twice = _action(plan, "Twice")
    _update(twice, 2026, 1, Rag.RED, JUNE)
    _update(twice, 2026, 2, Rag.AMBER, datetime(2026, 8, 1, tzinfo=UTC))
    assert RED_AMBER in _kinds(twice, date(2026, 8, 20))
    # across the financial year: Q4 of 2025-26 amber, Q1 of 2026-27 red
    year_end = _action(plan, "Year end")
    _update(year_end, 2025, 4, Rag.AMBER, datetime(2026, 3, 1, tzinfo=UTC))
    _update(year_end, 2026, 1, Rag.RED, JUNE)
    assert RED_AMBER in _kinds(year_end, date(2026, 6, 20))
    recovered = _action(plan, "Recovered")
    _update(recovered, 2026, 1, Rag.RED, JUNE)
    _update(recovered, 2026, 2, Rag.GREEN, datetime(2026, 8, 1, tzinfo=UTC))
    assert RED_AMBER not in _kinds(recovered, date(2026, 8, 20))
    gap = _action(plan, "A quarter between")
    _update(gap, 2025, 4, Rag.RED, datetime(2026, 3, 1, tzinfo=UTC))
    _update(gap, 2026, 2, Rag.RED, datetime(2026, 8, 1, tzinfo=UTC))
    assert RED_AMBER not in _kinds(gap, date(2026, 8, 20))
    # the latest status of a quarter counts: red then green within Q1, then amber in Q2
    changed = _action(plan, "Changed its mind")
    _update(changed, 2026, 1, Rag.RED, datetime(2026, 5, 1, tzinfo=UTC))
    _update(changed, 2026, 1, Rag.GREEN, JUNE)
    _update(changed, 2026, 2, Rag.AMBER, datetime(2026, 8, 1, tzinfo=UTC))
    assert RED_AMBER not in _kinds(changed, date(2026, 8, 20))
    reason = next(
        r.reason
        for r in risks_of(Action.objects.get(pk=twice.pk), date(2026, 8, 20))
        if r.kind == RED_AMBER
    )
    assert reason == (
        "Red in 2026-27 Q1 and Amber in 2026-27 Q2: off track or at risk two quarters running."
    )


def _person(username: str, org: str, role: Role, full: str = "", email: bool = True):  # type: ignore[no-untyped-def]
    first, _, last = full.partition(" ")
    user = get_user_model().objects.create(
        username=username,
        email=f"{username}@example.org" if email else "",
        first_name=first,
        last_name=last,
    )
    membership_set(
        user=user, partnership=_mbro(), organisation=Organisation.objects.get(slug=org), role=role
    )
    return user


@pytest.fixture
def team(plan):  # type: ignore[no-untyped-def]
    people = {
        "fire": _person("fire-officer", "cleveland-fire-brigade", Role.PARTNER_OFFICER),
        "manager": _person("manager", "middlesbrough-council", Role.PARTNERSHIP_MANAGER),
        "councillor": _person("councillor", "middlesbrough-council", Role.COUNCILLOR),
        "auditor": _person("priya", "cleveland-police", Role.AUDITOR, "Priya Shah"),
        "no-email": _person("noemail", "cleveland-fire-brigade", Role.PARTNER_OFFICER, email=False),
    }
    fires = _action(
        plan, "Reduce deliberate fires", due=date(2025, 11, 30), lead="cleveland-fire-brigade"
    )
    _update(fires, 2025, 3, Rag.GREEN, datetime(2025, 11, 2, tzinfo=UTC))
    cctv = _action(
        plan, "CCTV review", lead="middlesbrough-council", officer="Priya Shah (Inspector)"
    )
    _update(cctv, 2025, 2, Rag.RED, datetime(2025, 8, 2, tzinfo=UTC))
    _update(cctv, 2025, 3, Rag.AMBER, datetime(2025, 11, 2, tzinfo=UTC))
    # names a post, not a person: the member whose username is "manager" is not its lead
    _action(
        plan, "Safeguarding review", due=date(2025, 9, 30), officer="Risk and Resilience Manager"
    )
    fine = _action(plan, "On track", lead="cleveland-fire-brigade")
    _update(fine, 2025, 3, Rag.GREEN, datetime(2025, 11, 2, tzinfo=UTC))
    return {"people": people, "fires": fires, "cctv": cctv, "fine": fine}  # fmt: skip


MONDAY = date(2025, 12, 8)


def test_the_digest_goes_to_each_lead_once_a_week(team, mailoutbox):
    run = send_weekly_digests(today=MONDAY)
    assert run.week == MONDAY
    to = {m.to[0]: m for m in mailoutbox}
    # fire officer: the overdue fires action (their organisation leads it); the manager:
    # the CCTV action (council-led, red then amber); Priya, an auditor who may not update
    # actions, is named as its lead officer. The councillor (no update_action), the officer
    # without an e-mail address, and the on-track action are left out.
    assert set(to) == {
        "fire-officer@example.org",
        "manager@example.org",
        "priya@example.org",
    }
    fire = to["fire-officer@example.org"]
    assert "1 overdue or at-risk action, week of 8 December 2025" in fire.subject
    assert "Reduce deliberate fires" in fire.body and "CCTV review" not in fire.body
    assert "Due 30 November 2025" in fire.body and "8 days ago" in fire.body
    assert f"/p/middlesbrough/plans/actions/{team['fires'].uuid}/" in fire.body
    assert "On track" not in fire.body
    assert fire.alternatives and "Reduce deliberate fires" in fire.alternatives[0][0]
    manager = to["manager@example.org"].body
    assert "CCTV review" in manager and "Red in 2025-26 Q2 and Amber in 2025-26 Q3" in manager
    assert "CCTV review" in to["priya@example.org"].body
    assert not any("Safeguarding review" in m.body for m in mailoutbox)
    # recorded and audited: one disclosure to each recipient
    assert DigestSent.objects.filter(week=MONDAY).count() == 3
    events = AuditEvent.objects.filter(action=AuditAction.DISCLOSURE, target_type="plans.digest")
    assert sorted(e.recipient.split(" ")[0] for e in events) == ["fire-officer", "manager", "priya"]
    assert {e.partnership for e in events} == {"middlesbrough"}
    # never twice for the same week, even later that week
    again = send_weekly_digests(today=date(2025, 12, 11))
    assert len(mailoutbox) == 3 and not again.sent and len(again.already_sent) == 3
    # the next week is a new digest
    send_weekly_digests(today=date(2025, 12, 15))
    assert len(mailoutbox) == 6


def test_send_digest_dry_run_sends_and_records_nothing(team, mailoutbox):
    out = StringIO()
    call_command("csp_send_digest", "--dry-run", "--date", "2025-12-08", stdout=out)
    text = out.getvalue()
    assert "would send: fire-officer <fire-officer@example.org> (middlesbrough): 1 action" in text
    assert (
        "would send: priya <priya@example.org> (middlesbrough): 1 action (as lead officer)" in text
    )
    assert "3 digests would be sent." in text
    assert mailoutbox == [] and not DigestSent.objects.exists()
    assert not AuditEvent.objects.filter(target_type="plans.digest").exists()
    call_command("csp_send_digest", "--date", "2025-12-08", stdout=StringIO())
    assert len(mailoutbox) == 3


def test_the_weekly_job_runs_through_django_q(team, mailoutbox, monkeypatch):
    # The migration registered the schedule once; registering again changes nothing.
    migration = importlib.import_module("csp_platform.digest.migrations.0002_weekly_schedule")
    migration.register(apps, None)
    schedule = Schedule.objects.get(name="csp-weekly-digest")
    assert Schedule.objects.filter(func="csp_platform.digest.tasks.weekly_digest").count() == 1
    assert schedule.schedule_type == Schedule.WEEKLY
    first = schedule.next_run.astimezone(LONDON)
    assert first.weekday() == 0 and (first.hour, first.minute) == (7, 0)
    # Make it due (Monday 8 December 2025, 07:00 London) and let the runner's scheduler
    # pick it up; sync mode runs the task in this process instead of a worker.
    Schedule.objects.filter(pk=schedule.pk).update(
        next_run=datetime(2025, 12, 8, 7, 0, tzinfo=LONDON)
    )
    monkeypatch.setattr(Conf, "SYNC", True)
    scheduler(broker=get_broker())
    task = Success.objects.get(func="csp_platform.digest.tasks.weekly_digest")
    assert "3 digests sent." in task.result
    assert len(mailoutbox) == 3
    assert set(DigestSent.objects.values_list("week", flat=True)) == {MONDAY}
    schedule.refresh_from_db()
    assert schedule.next_run.astimezone(LONDON).date() > MONDAY


def test_the_plan_page_lists_overdue_and_at_risk_actions(plan, client):
    # The page judges on the real London date: the actions are made relative to it.
    today = timezone.localdate()
    fy, q = fiscal_quarter(today)
    now = timezone.now()
    late = _action(
        plan, "Late action", due=today - timedelta(days=10), lead="middlesbrough-council"
    )
    _update(late, fy, q, Rag.GREEN, now)
    silent = _action(plan, "Silent action", due=today + timedelta(days=60))
    fine = _action(plan, "Fine action", due=today + timedelta(days=60))
    _update(fine, fy, q, Rag.GREEN, now)
    client.force_login(_person("manager", "middlesbrough-council", Role.PARTNERSHIP_MANAGER))
    page = client.get(f"/p/middlesbrough/plans/{plan.uuid}/").content.decode()
    section = page.split('id="at-risk"')[1].split("</section>")[0]
    assert "Overdue and at risk: 2 actions" in section
    assert f'data-at-risk="{late.uuid}" data-kinds="overdue"' in section
    assert f'data-at-risk="{silent.uuid}" data-kinds="no_update"' in section
    assert str(fine.uuid) not in section
    assert "10 days ago" in section and "it has never had one" in section
