"""The weekly digest of overdue and at-risk actions, to each lead (docs/plans-at-risk.md).

Who gets it: for each flagged action, the members of the partnership whose organisation
leads it and whose role may enter its quarterly updates (``update_action``), and the lead
officer when the action's "lead officer or post" names a member (their full name or e-mail
address). One e-mail per person, partnership and week, listing all their flagged
actions with the reasons; never twice for the same week (``DigestSent``, unique), and each
one recorded in the audit log as a *disclosure* to its recipient.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from csp_platform.core import audit
from csp_platform.core.models import AuditAction, Membership, Partnership
from csp_platform.core.permissions import Perm, role_allows
from csp_platform.digest.models import DigestSent
from csp_platform.plans.models import Plan
from csp_platform.plans.risk import AtRisk, at_risk_in

DIGEST_TARGET = "plans.digest"


def week_of(day: date) -> date:
    """The Monday of ``day``'s week.

    >>> week_of(date(2026, 12, 6)), week_of(date(2026, 12, 7))
    (datetime.date(2026, 11, 30), datetime.date(2026, 12, 7))
    """
    return day - timedelta(days=day.weekday())


@dataclass
class Digest:
    """One person's digest for a partnership and week."""

    partnership: Partnership
    membership: Membership
    week: date
    items: list[AtRisk] = field(default_factory=list)
    why: set[str] = field(default_factory=set)  # "lead organisation", "lead officer"

    @property
    def user(self) -> User:
        return self.membership.user

    @property
    def email(self) -> str:
        return str(getattr(self.user, "email", ""))


def _named_in(lead_officer: str, membership: Membership) -> bool:
    """Does the lead officer text name this member: their full name (two words or more) or
    their e-mail address, as whole words? A username alone is not enough ("manager" is a
    word of "Risk and Resilience Manager")."""
    user = membership.user
    full = " ".join(user.get_full_name().split())
    names = {full if len(full.split()) >= 2 else "", user.email}
    text = lead_officer.lower()
    return any(n and re.search(rf"(?<![\w@.]){re.escape(n.lower())}(?![\w@])", text) for n in names)


def digests_for(partnership: Partnership, today: date) -> list[Digest]:
    """Who should get which flagged actions this week (nothing sent, nothing recorded)."""
    flagged = at_risk_in(
        Plan.objects.filter(partnership=partnership).exclude(status=Plan.Status.CLOSED), today
    )
    members = list(
        Membership.objects.filter(partnership=partnership, user__is_active=True)
        .exclude(user__email="")
        .select_related("user", "organisation", "partnership")
        .order_by("user__username")
    )
    week = week_of(today)
    digests: dict[int, Digest] = {}
    for item in flagged:
        leads = {o.pk for o in item.action.lead_organisations.all()}
        for m in members:
            why = set()
            if m.organisation_id in leads and role_allows(m.role, Perm.UPDATE_ACTION):
                why.add("lead organisation")
            if item.action.lead_officer and _named_in(item.action.lead_officer, m):
                why.add("lead officer")
            if why:
                digest = digests.setdefault(m.pk, Digest(partnership, m, week))
                digest.items.append(item)
                digest.why |= why
    return list(digests.values())


def _link(path: str) -> str:
    return settings.CSP_SITE_URL.rstrip("/") + path


def digest_message(digest: Digest) -> EmailMultiAlternatives:
    """The e-mail: plain text, and the same as HTML."""
    slug = digest.partnership.slug
    context = {
        "digest": digest,
        "week": digest.week,
        "name": digest.user.get_full_name() or digest.user.get_username(),
        "items": [
            (item, _link(reverse("plans:action", args=[slug, item.action.uuid])))
            for item in digest.items
        ],
        "plans_link": _link(reverse("plans:plans", args=[slug])),
    }
    n = len(digest.items)
    subject = (
        f"{digest.partnership.name}: {n} overdue or at-risk action{'s' if n != 1 else ''}, "
        f"week of {digest.week.day} {digest.week:%B %Y}"
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("digest/digest.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[digest.email],
    )
    message.attach_alternative(render_to_string("digest/digest.html", context), "text/html")
    return message


@dataclass
class DigestRun:
    week: date
    dry_run: bool
    sent: list[Digest] = field(default_factory=list)
    already_sent: list[Digest] = field(default_factory=list)
    planned: list[Digest] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "would send" if self.dry_run else "sent"
        out = [f"Weekly digest for the week of {self.week.day} {self.week:%B %Y}:"]
        for label, group in (
            (verb, self.planned if self.dry_run else self.sent),
            ("already sent this week, skipped", self.already_sent),
        ):
            for d in group:
                out.append(
                    f"  {label}: {d.user.get_username()} <{d.email}> ({d.partnership.slug}):"
                    f" {len(d.items)} action{'s' if len(d.items) != 1 else ''}"
                    f" (as {' and '.join(sorted(d.why))})"
                )
        total = len(self.planned if self.dry_run else self.sent)
        done = "would be sent" if self.dry_run else "sent"
        out.append(f"{total} digest{'s' if total != 1 else ''} {done}.")
        return out


def _send_one(digest: Digest, by: str, now: datetime) -> bool:
    """Record, audit and send one digest in one transaction; False if it was already sent."""
    try:
        with transaction.atomic():
            DigestSent.objects.create(
                partnership=digest.partnership,
                user=digest.user,
                week=digest.week,
                email=digest.email,
                actions=[str(i.action.uuid) for i in digest.items],
                sent_at=now,
            )
            audit.record(
                action=AuditAction.DISCLOSURE,
                actor=by,
                partnership=digest.partnership,
                target=(DIGEST_TARGET, f"{digest.partnership.slug}/{digest.week}"),
                recipient=(
                    f"{digest.user.get_username()} <{digest.email}>"
                    f" ({digest.membership.organisation.name})"
                ),
                purpose="Weekly digest of overdue and at-risk actions to their lead",
                detail={
                    "week": digest.week.isoformat(),
                    "actions": [str(i.action.uuid) for i in digest.items],
                    "as": sorted(digest.why),
                },
            )
            digest_message(digest).send()
    except IntegrityError:
        return False
    return True


def send_weekly_digests(
    *,
    today: date | None = None,
    partnerships: Iterable[Partnership] | None = None,
    dry_run: bool = False,
    by: str = "weekly digest job",
) -> DigestRun:
    """Send this week's digests that have not been sent yet (``dry_run``: only say who
    would get what). ``today`` is the Europe/London date (default: now)."""
    today = today or timezone.localdate()
    run = DigestRun(week=week_of(today), dry_run=dry_run)
    now = timezone.now()
    for partnership in partnerships or Partnership.objects.order_by("slug"):
        for digest in digests_for(partnership, today):
            done = DigestSent.objects.filter(
                partnership=partnership, user=digest.user, week=digest.week
            ).exists()
            if done:
                run.already_sent.append(digest)
            elif dry_run:
                run.planned.append(digest)
            elif _send_one(digest, by, now):
                run.sent.append(digest)
            else:
                run.already_sent.append(digest)
    return run
