"""The scheduled job (django-q2 runs it; the schedule is registered by migration
``digest/0002_weekly_schedule``; docs/operations.md says how the runner starts)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from csp_platform.digest.services import send_weekly_digests

SCHEDULE_NAME = "csp-weekly-digest"
TASK = "csp_platform.digest.tasks.weekly_digest"


def weekly_digest(intended: str | None = None, **_: object) -> str:
    """Send the week's digests. ``intended`` is the run's scheduled time (django-q2 passes
    it): a run delayed past midnight still sends the digest of the week it was due in."""
    when = datetime.fromisoformat(intended) if intended else timezone.now()
    run = send_weekly_digests(today=timezone.localdate(when), by="weekly digest job (django-q2)")
    return "\n".join(run.lines())
