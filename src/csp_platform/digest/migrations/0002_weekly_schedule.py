"""Register the weekly digest with the job runner (django-q2): every Monday at 07:00,
Europe/London. Idempotent: the schedule is found by its name and set, never duplicated;
a schedule an administrator changed (time, or paused with repeats=0) keeps its changes."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import migrations

SCHEDULE_NAME = "csp-weekly-digest"
TASK = "csp_platform.digest.tasks.weekly_digest"


def next_monday_7am(now: datetime) -> datetime:
    london = now.astimezone(ZoneInfo("Europe/London"))
    days = (7 - london.weekday()) % 7
    day = london.date() + timedelta(days=days)
    run = datetime.combine(day, time(7, 0), tzinfo=ZoneInfo("Europe/London"))
    return run if run > london else run + timedelta(days=7)


def register(apps, schema_editor):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    Schedule = apps.get_model("django_q", "Schedule")
    if Schedule.objects.filter(name=SCHEDULE_NAME).exists():
        Schedule.objects.filter(name=SCHEDULE_NAME).update(func=TASK)
        return
    Schedule.objects.create(
        name=SCHEDULE_NAME,
        func=TASK,
        schedule_type="W",
        repeats=-1,
        next_run=next_monday_7am(timezone.now()),
        intended_date_kwarg="intended",
    )


def unregister(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("digest", "0001_initial"),
        ("django_q", "0016_schedule_intended_date_kwarg"),
    ]

    operations = [migrations.RunPython(register, unregister)]
