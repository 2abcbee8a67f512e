"""Every change to a plan: creating and editing actions, quarterly updates, imports.

Each service runs in one transaction and records who changed what, from what to what, with
``core.audit.record`` in that transaction (an action's page reads its edit history back
from the audit log, ``selectors.action_history``; there is no second history). Who may do
what is ``plans/policy.py``; a refusal is ``NotPermitted``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from csp_platform.areas.models import Area
from csp_platform.core import audit
from csp_platform.core.errors import ImportRejected, NotPermitted
from csp_platform.core.models import AuditAction, Membership, Organisation, Partnership
from csp_platform.incidents.models import Category, Theme
from csp_platform.plans import policy
from csp_platform.plans.models import (
    Action,
    Objective,
    Plan,
    PlanTheme,
    Priority,
    QuarterlyUpdate,
    Rag,
    RecommendationUpdate,
    ScrutinyRecommendation,
)
from csp_platform.plans.parsing import (
    ParsedPlan,
    clean_cell,
    lead_alias,
    lead_parts,
    looks_like_organisation,
    parse_due_date,
    parse_plan,
    quarter_label,
    words,
)
from csp_platform.plans.selectors import ACTION_TARGET

# ----------------------------------------------------------------------------------------
# Actions: create, edit

ACTION_FIELDS = (
    "text",
    "lead_officer",
    "lead_text",
    "budget",
    "timescale",
    "due_date",
    "start_date",
    "status",
    "objective",
    "theme",
)
ACTION_LINKS = ("lead_organisations", "areas", "categories", "incident_themes")


def action_snapshot(action: Action) -> dict[str, Any]:
    """An action's fields as the history shows them: words, not ids."""
    snap: dict[str, Any] = {
        "text": action.text,
        "lead_officer": action.lead_officer,
        "lead_text": action.lead_text,
        "budget": action.budget,
        "timescale": action.timescale,
        "due_date": action.due_date.isoformat() if action.due_date else None,
        "start_date": action.start_date.isoformat() if action.start_date else None,
        "status": action.status,
        "objective": action.objective.text if action.objective else None,
        "theme": action.theme.name if action.theme else None,
    }
    if action.pk:
        snap["lead_organisations"] = sorted(o.name for o in action.lead_organisations.all())
        snap["areas"] = sorted(f"{a.name} ({a.code}, {a.generation})" for a in action.areas.all())
        snap["categories"] = sorted(c.code for c in action.categories.all())
        snap["incident_themes"] = sorted(t.code for t in action.incident_themes.all())
    return snap


def _changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    keys = sorted(k for k in after if before.get(k) != after[k])
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _check_parent(plan: Plan, objective: Objective | None, theme: PlanTheme | None) -> None:
    if objective is None and theme is None:
        raise ImportRejected("objective: an action sits under an objective or a theme")
    if objective is not None and objective.plan_id != plan.pk:
        raise ImportRejected("objective: not an objective of this plan")
    if theme is not None and theme.plan_id != plan.pk:
        raise ImportRejected("theme: not a theme of this plan")


def _check_links(plan: Plan, links: dict[str, Any]) -> None:
    orgs = links.get("lead_organisations")
    if orgs is not None:
        allowed = set(plan.partnership.organisations.values_list("pk", flat=True))
        for org in orgs:
            if org.pk not in allowed:
                raise ImportRejected(
                    f"lead organisations: {org.name} is not an organisation of the partnership"
                )


@transaction.atomic
def action_create(
    *,
    plan: Plan,
    by: Any,
    membership: Membership | None = None,
    objective: Objective | None = None,
    theme: PlanTheme | None = None,
    text: str,
    lead_organisations: list[Organisation] | None = None,
    areas: list[Area] | None = None,
    categories: list[Category] | None = None,
    incident_themes: list[Theme] | None = None,
    **fields: Any,
) -> Action:
    """A new action under an objective or theme of ``plan``; audited as a collection."""
    if membership is not None and not policy.may_edit_plan(membership):
        raise NotPermitted("You may not add actions to this plan.")
    _check_parent(plan, objective, theme)
    unknown = set(fields) - set(ACTION_FIELDS)
    if unknown:
        raise ImportRejected(f"{sorted(unknown)[0]}: not a field of an action")
    if not text.strip():
        raise ImportRejected("text: an action needs its words")
    links = {
        "lead_organisations": lead_organisations,
        "areas": areas,
        "categories": categories,
        "incident_themes": incident_themes,
    }
    _check_links(plan, links)
    if "due_date" not in fields and fields.get("timescale"):
        fields["due_date"] = parse_due_date(fields["timescale"])
    last = plan.actions.order_by("-order").values_list("order", flat=True).first()
    action = Action.objects.create(
        plan=plan,
        objective=objective,
        theme=theme,
        text=text.strip(),
        order=(last or 0) + 1,
        **fields,
    )
    for name, values in links.items():
        if values:
            getattr(action, name).set(values)
    audit.record(
        action=AuditAction.COLLECTION,
        actor=by,
        membership=membership,
        target=(ACTION_TARGET, str(action.uuid)),
        after=action_snapshot(action),
        detail={"plan": str(plan.uuid)},
    )
    return action


@transaction.atomic
def action_update(
    *,
    action: Action,
    by: Any,
    membership: Membership | None = None,
    lead_organisations: list[Organisation] | None = None,
    areas: list[Area] | None = None,
    categories: list[Category] | None = None,
    incident_themes: list[Theme] | None = None,
    **changes: Any,
) -> Action:
    """Change an action's words, leads, dates, links or status; audited as an alteration
    with only the fields that changed, before and after. A timescale changed without a
    due date gets the date read from it."""
    if membership is not None and not policy.may_edit_plan(membership):
        raise NotPermitted("You may not edit the actions of this plan.")
    unknown = set(changes) - set(ACTION_FIELDS)
    if unknown:
        raise ImportRejected(f"{sorted(unknown)[0]}: not a field of an action")
    action = (
        Action.objects.select_for_update().select_related("plan__partnership").get(pk=action.pk)
    )
    before = action_snapshot(action)
    if "timescale" in changes and "due_date" not in changes:
        changes["due_date"] = parse_due_date(changes["timescale"] or "")
    for name, value in changes.items():
        setattr(action, name, value)
    if not action.text.strip():
        raise ImportRejected("text: an action needs its words")
    _check_parent(action.plan, action.objective, action.theme)
    links = {
        "lead_organisations": lead_organisations,
        "areas": areas,
        "categories": categories,
        "incident_themes": incident_themes,
    }
    _check_links(action.plan, links)
    action.save()
    for name, values in links.items():
        if values is not None:
            getattr(action, name).set(values)
    after = action_snapshot(action)
    old, new = _changed(before, after)
    if old or new:
        audit.record(
            action=AuditAction.ALTERATION,
            actor=by,
            membership=membership,
            target=(ACTION_TARGET, str(action.uuid)),
            before=old,
            after=new,
        )
    return action


@transaction.atomic
def quarterly_update_add(
    *,
    action: Action,
    by: Any,
    membership: Membership | None,
    fiscal_year: int,
    quarter: int,
    commentary: str,
    rag: str,
) -> QuarterlyUpdate:
    """Enter a quarter's update of an action (policy: a lead organisation's member, or a
    partnership manager or administrator); audited as a collection on the action."""
    if membership is not None and not policy.may_update_action(membership, action):
        raise NotPermitted(
            "Only a member of an organisation that leads this action, or a partnership"
            " manager, may enter its updates."
        )
    if quarter not in (1, 2, 3, 4):
        raise ImportRejected("quarter: 1, 2, 3 or 4")
    if not 2000 <= fiscal_year <= 2100:
        raise ImportRejected("year: the year the financial year starts in, e.g. 2021")
    if rag not in Rag.values:
        raise ImportRejected("status: choose Red, Amber, Green, Blue (complete) or Not started")
    if not commentary.strip():
        raise ImportRejected("commentary: say what was done this quarter")
    user = by if getattr(by, "is_authenticated", False) else None
    update = QuarterlyUpdate.objects.create(
        action=action,
        fiscal_year=fiscal_year,
        quarter=quarter,
        quarter_label=quarter_label(fiscal_year, quarter),
        commentary=commentary.strip(),
        rag=rag,
        entered_by=user,
        entered_by_name=user.get_username() if user else str(by or ""),
        entered_at=timezone.now(),
    )
    audit.record(
        action=AuditAction.COLLECTION,
        actor=by,
        membership=membership,
        target=(ACTION_TARGET, str(action.uuid)),
        after={
            "update": update.quarter_label,
            "status": Rag(rag).label,
            "commentary": update.commentary,
        },
        detail={"quarterly_update": update.pk},
    )
    return update


@transaction.atomic
def recommendation_update_add(
    *,
    recommendation: ScrutinyRecommendation,
    by: Any,
    membership: Membership | None,
    commentary: str,
    status: str | None = None,
    rag: str = "",
) -> RecommendationUpdate:
    """An update on a scrutiny recommendation, and its new status if one is given; audited
    as a collection (with the status change before and after) on the recommendation."""
    if membership is not None and (
        not policy.may_edit_plan(membership)
        or recommendation.partnership_id != membership.partnership_id
    ):
        raise NotPermitted("Only a partnership manager may update scrutiny recommendations.")
    if not commentary.strip():
        raise ImportRejected("commentary: say what was done")
    if rag and rag not in Rag.values:
        raise ImportRejected("status: choose Red, Amber, Green, Blue (complete) or Not started")
    if status is not None and status not in ScrutinyRecommendation.Status.values:
        raise ImportRejected(f"status: {status!r} is not a status of a recommendation")
    recommendation = ScrutinyRecommendation.objects.select_for_update().get(pk=recommendation.pk)
    before = recommendation.status
    if status is not None:
        recommendation.status = status
        recommendation.save(update_fields=["status"])
    user = by if getattr(by, "is_authenticated", False) else None
    update = RecommendationUpdate.objects.create(
        recommendation=recommendation,
        commentary=commentary.strip(),
        rag=rag,
        entered_by=user,
        entered_at=timezone.now(),
    )
    audit.record(
        action=AuditAction.COLLECTION,
        actor=by,
        membership=membership,
        target=("plans.scrutinyrecommendation", str(recommendation.uuid)),
        before={"status": before} if before != recommendation.status else None,
        after={
            "commentary": update.commentary,
            "rag": rag,
            **({"status": recommendation.status} if before != recommendation.status else {}),
        },
        detail={"recommendation_update": update.pk},
    )
    return update


# ----------------------------------------------------------------------------------------
# Import


@dataclass
class ImportReport:
    """What ``csp import-plan`` made, and what it could not place."""

    file: str
    partnership: str
    plan_title: str
    kind: str
    unchanged: bool = False
    dry_run: bool = False
    priorities: int = 0
    objectives: int = 0
    themes: int = 0
    actions: int = 0
    updates: int = 0
    recommendations: int = 0
    unplaced: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plan_uuid: str = ""

    def lines(self) -> list[str]:
        if self.unchanged:
            return [
                f"{self.file}: already imported as {self.plan_title!r} for"
                f" {self.partnership}; nothing changed."
            ]
        verb = "would make" if self.dry_run else "made"
        out = [
            f"{self.file}: {self.plan_title!r} ({self.kind}) for {self.partnership}: {verb}"
            f" {self.priorities} priorities, {self.objectives} objectives, {self.themes}"
            f" themes, {self.actions} actions, {self.updates} updates,"
            f" {self.recommendations} recommendations."
        ]
        if self.unplaced:
            out.append(f"Could not place ({len(self.unplaced)}):")
            out.extend(f"  - {u}" for u in self.unplaced)
        if self.notes:
            out.append("Notes:")
            out.extend(f"  - {n}" for n in self.notes)
        if self.dry_run:
            out.append("Dry run: nothing was written.")
        return out


class _DryRun(Exception):
    pass


# Words in a "Lead Officer" cell that make a name a post, not an organisation.
POST_WORDS = frozenset(
    {
        "manager",
        "head",
        "officer",
        "commissioner",
        "lead",
        "director",
        "chief",
        "chair",
        "coordinator",
        "co-ordinator",
        "worker",
        "inspector",
        "sergeant",
        "analyst",
        "team",
    }
)


def _place_name(partnership: Partnership) -> set[str]:
    generic = {"community", "safety", "partnership", "safer"}
    return {w for w in words(partnership.name) if w not in generic}


def partnership_named_in(text: str, filename: str) -> Partnership:
    """The one partnership whose place name the document's opening names."""
    found = set(words(text))
    hits = [p for p in Partnership.objects.all() if _place_name(p) and _place_name(p) <= found]
    if len(hits) != 1:
        names = ", ".join(p.slug for p in hits) or "none"
        raise ImportRejected(
            f"{filename}: say which partnership with --partnership (the document's opening"
            f" names {names})"
        )
    return hits[0]


def _organisation_for(name: str, partnership: Partnership) -> Organisation | None:
    slug = lead_alias(name)
    orgs = partnership.organisations.all()
    if slug:
        return orgs.filter(slug=slug).first()
    return orgs.filter(name__iexact=name.strip()).first()


def _is_post(name: str) -> bool:
    return any(w.lower().strip(",.") in POST_WORDS for w in name.split())


def plan_import(
    path: Path,
    *,
    partnership_slug: str | None = None,
    dry_run: bool = False,
    by: str = "csp import-plan",
) -> ImportReport:
    """Import a plan file (seed layouts: parsing.py), all or nothing.

    A file already imported for the partnership (same SHA-256) changes nothing; a different
    file with the title of an existing plan is refused (edit the plan in the app instead).
    With ``dry_run`` everything is done and then rolled back, so the report is the same.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportRejected(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportRejected(f"{path.name}, line {line}: not UTF-8 text") from None
    parsed = parse_plan(text, path.name)
    if partnership_slug:
        partnership = Partnership.objects.filter(slug=partnership_slug).first()
        if partnership is None:
            raise ImportRejected(f"--partnership: no partnership {partnership_slug!r}")
    else:
        partnership = partnership_named_in(parsed.text_head, path.name)
    digest = hashlib.sha256(raw).hexdigest()
    report = ImportReport(
        file=path.name,
        partnership=partnership.slug,
        plan_title=parsed.title,
        kind=parsed.kind,
        dry_run=dry_run,
    )
    existing = Plan.objects.filter(partnership=partnership, source_sha256=digest).first()
    if existing:
        report.unchanged = True
        report.plan_uuid = str(existing.uuid)
        return report
    if Plan.objects.filter(partnership=partnership, title=parsed.title).exists():
        raise ImportRejected(
            f"{path.name}: {partnership.slug} already has a plan titled {parsed.title!r}"
            " from another file; change it in the app, or remove it first"
        )
    try:
        with transaction.atomic():
            _write(parsed, partnership, path.name, digest, by, report)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report


def _write(
    parsed: ParsedPlan,
    partnership: Partnership,
    filename: str,
    digest: str,
    by: str,
    report: ImportReport,
) -> None:
    now = timezone.now()
    plan = Plan.objects.create(
        partnership=partnership,
        kind=parsed.kind,
        title=parsed.title,
        period_start=parsed.period_start,
        period_end=parsed.period_end,
        source_document=filename,
        source_sha256=digest,
    )
    report.plan_uuid = str(plan.uuid)
    report.unplaced.extend(parsed.unplaced)
    report.notes.extend(parsed.notes)
    priorities = [
        Priority.objects.create(
            plan=plan, number=p.number, title=p.title, description=p.description, order=i
        )
        for i, p in enumerate(parsed.priorities)
    ]
    objectives = [
        Objective.objects.create(
            plan=plan,
            priority=priorities[o.priority] if o.priority is not None else None,
            text=o.text,
            priority_text=o.priority_text,
            match_note=o.match_note,
            order=i,
        )
        for i, o in enumerate(parsed.objectives)
    ]
    themes = [
        PlanTheme.objects.create(
            plan=plan,
            priority=priorities[t.priority] if t.priority is not None else None,
            name=t.name,
            order=i,
        )
        for i, t in enumerate(parsed.themes)
    ]
    for o in parsed.objectives:
        if (
            o.priority is not None
            and o.match_note.startswith("matched")
            and o.text != (o.priority_text)
        ):
            report.notes.append(f"line {o.line}: objective {o.text[:60]!r} {o.match_note}")
    unmatched_leads = 0
    for i, pa in enumerate(parsed.actions):
        orgs: list[Organisation] = []
        officers: list[str] = []
        parts = lead_parts(pa.lead_cell)
        for part in parts:
            org = _organisation_for(part, partnership)
            if org is not None:
                if org not in orgs:
                    orgs.append(org)
            elif (
                pa.lead_column == "officer" and _is_post(part) and not looks_like_organisation(part)
            ):
                officers.append(part)
            else:
                unmatched_leads += 1
                report.unplaced.append(
                    f"line {pa.line}: lead {part!r} matched no organisation of"
                    f" {partnership.slug} (kept as written)"
                )
        action = Action.objects.create(
            plan=plan,
            objective=objectives[pa.objective] if pa.objective is not None else None,
            theme=themes[pa.theme] if pa.theme is not None else None,
            text=pa.text,
            order=i + 1,
            lead_text=" / ".join(parts)[:500],
            lead_officer="; ".join(officers)[:500],
            budget=pa.budget,
            timescale=pa.timescale,
            due_date=parse_due_date(pa.timescale) if pa.timescale else None,
            source_line=pa.line,
        )
        if orgs:
            action.lead_organisations.set(orgs)
        for update in pa.updates:
            QuarterlyUpdate.objects.create(
                action=action,
                fiscal_year=update.fiscal_year,
                quarter=update.quarter,
                quarter_label=(
                    quarter_label(update.fiscal_year, update.quarter)
                    if update.fiscal_year and update.quarter
                    else (f"Q{update.quarter}" if update.quarter else "")
                ),
                commentary=update.commentary,
                rag=update.rag,
                entered_by_name=f"imported from {filename}",
                entered_at=now,
            )
            report.updates += 1
        audit.record(
            action=AuditAction.COLLECTION,
            actor=by,
            target=(ACTION_TARGET, str(action.uuid)),
            after=action_snapshot(action),
            detail={"imported_from": filename, "line": pa.line, "updates": len(pa.updates)},
        )
    for i, r in enumerate(parsed.recommendations):
        ScrutinyRecommendation.objects.create(
            partnership=partnership,
            plan=plan,
            letter=r.letter,
            recommendation=r.recommendation,
            proposed_action=r.proposed_action,
            post_title=r.post_title,
            budget_cost=r.budget_cost,
            timescale=r.timescale,
            due_date=parse_due_date(r.timescale),
            order=i,
            source_line=r.line,
        )
    report.priorities = len(priorities)
    report.objectives = len(objectives)
    report.themes = len(themes)
    report.actions = len(parsed.actions)
    report.recommendations = len(parsed.recommendations)
    audit.record(
        action=AuditAction.COLLECTION,
        actor=by,
        target=plan,
        detail={
            "imported_from": filename,
            "sha256": digest,
            "priorities": report.priorities,
            "objectives": report.objectives,
            "themes": report.themes,
            "actions": report.actions,
            "updates": report.updates,
            "recommendations": report.recommendations,
            "unplaced": len(report.unplaced),
            "unmatched_leads": unmatched_leads,
        },
    )


def clean(text: str) -> str:
    """A form's text field made plain (pasted HTML list fragments become bullets)."""
    return clean_cell(text) if "<" in text else re.sub(r"[ \t]+", " ", text).strip()


def demo_plans_load(seeds: Path) -> list[ImportReport]:
    """The demo's plans: Middlesbrough's delivery and scrutiny plans (seeds 000, 001) and
    Redcar & Cleveland's community safety plan (002), if the seed files are there."""
    reports = []
    for prefix, slug in (
        ("000_", "middlesbrough"),
        ("001_", "middlesbrough"),
        ("002_", "redcar-cleveland"),
    ):
        for path in sorted(seeds.glob(f"{prefix}*.txt")):
            reports.append(plan_import(path, partnership_slug=slug, by="csp load-demo"))
    return reports


def today() -> date:
    return timezone.localdate()
