"""Did it work? From the incident store to :func:`csp_analytics.evaluation.evaluate`.

Glue only, no maths: for an area, the categories or themes asked for and a start month,
read the monthly counts of the area, of the candidate comparison areas and of the buffer
ring around the area through the read path (:mod:`csp_platform.analysis.loading`, the same
counts as ``csp counts``), mark the months no source covers as gaps (never zero), and hand
the arrays to the analytics library (docs/analytics/evaluation.md).

Candidate comparison areas, chosen from before the matching:

* a ward or a custom area: the wards of the newest generation in the same district (the
  district holding the area, or the districts its outline touches), and, when fewer than
  ``2 * k`` remain, the wards of every district of the force area as well;
* a district: the other districts of the force area;
* in every case, areas that touch the area or its buffer ring are left out, so that crime
  displaced next door does not flatter the comparison.

The ring is the area's outline buffered by ``ring_m`` metres on the British National Grid,
minus the area; incidents with a location are counted in it by point in polygon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl
import shapely
from django.db.models import Count

from csp_analytics.evaluation import Evaluation, evaluate
from csp_platform.analysis import loading
from csp_platform.analysis.loading import AreaRef
from csp_platform.analysis.periods import add_months, month_label, period_months
from csp_platform.areas.models import Area
from csp_platform.core.errors import BadQuery
from csp_platform.incidents.models import Category, Incident
from csp_platform.incidents.scope import (
    FULL_ACCESS,
    Scope,
    areas_of_level,
    months_with_data,
    selection_coverage,
    selection_words,
)

FORCE_AREA_MIN_SHARE = 0.01  # as analysis.selectors: districts with 1% of the incidents


@dataclass(frozen=True)
class EvaluationReport:
    """An outcome evaluation, with everything needed to print or show it."""

    area: AreaRef
    what: str
    start: date
    months: tuple[date, ...]
    n_before: int
    ring_m: int
    result: Evaluation
    candidates: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def period_words(self) -> str:
        if not self.months:
            return ""
        before = f"{month_label(self.months[0])} to {month_label(add_months(self.start, -1))}"
        after = f"{month_label(self.start)} to {month_label(self.months[-1])}"
        return f"before: {before}; after: {after}"

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        did = r.did
        disp = r.displacement
        return {
            "area": self.area.as_dict(),
            "what": self.what,
            "start": month_label(self.start),
            "months_before": r.months_before,
            "months_after": r.months_after,
            "verdict": r.verdict,
            "outcome": r.outcome,
            "refused": r.refused,
            "reasons": list(r.reasons),
            "comparison_areas": list(r.comparison),
            "candidates": self.candidates,
            "counts": {k: list(v) for k, v in (r.counts or {}).items()},
            "rate_ratio": None if did is None else did.ratio,
            "ci": None if did is None else [did.ci_low, did.ci_high],
            "p_value": None if did is None else did.p_value,
            "dispersion": None if did is None else did.phi,
            "ring_m": self.ring_m,
            "wdq": None if disp is None else disp.wdq,
            "ring_p_value": None if disp is None else disp.ring.p_value,
            "notes": list(self.notes),
        }


def _months(scope: Scope, start: date, before: int, after: int) -> list[date]:
    """Up to ``before`` months before the start and ``after`` from it, within the span the
    store holds: the before period starts no earlier than the first month any source has
    data (earlier months predate the store), the after period ends at the last (a later
    month is not yet known). A month missing inside the span stays a gap."""
    held = months_with_data(scope.source_ids)
    first, last = add_months(start, -before), add_months(start, after - 1)
    if held:
        first = min(max(first, held[0]), add_months(start, -1))
        last = max(min(last, held[-1]), add_months(start, -1))
    return period_months((first, last))


def force_districts(scope: Scope, first: date, last: date) -> list[Area]:
    """The districts of the force area: those with 1% or more of the sources' incidents."""
    districts = areas_of_level("district", FULL_ACCESS)
    per_area = loading.counts_by_area(districts, scope, first, last)
    totals = {a: int(f["n"].sum()) for a, f in per_area.items()}
    grand = sum(totals.values())
    return [d for d in districts if grand and totals[d.pk] >= FORCE_AREA_MIN_SHARE * grand]


def _candidates(
    area: Area, scope: Scope, zone: shapely.Geometry, k: int, months: list[date]
) -> list[Area]:
    """Candidate comparison areas (module docstring), none touching the area or its ring."""
    force = force_districts(scope, months[0], months[-1])
    if area.level == "district":
        pool = [d for d in force if d.pk != area.pk]
    else:
        home: list[Area] = [area.parent] if area.parent is not None else []
        if not home:
            home = [d for d in force if shapely.intersects(loading.area_bng(d), zone)]
        pool = [w for d in home for w in areas_of_level("ward", FULL_ACCESS, parent=d)]
        pool = _apart(pool, area, zone)
        if len(pool) < 2 * k:
            seen = {d.pk for d in home}
            pool += [
                w
                for d in force
                if d.pk not in seen
                for w in areas_of_level("ward", FULL_ACCESS, parent=d)
            ]
    return _apart(pool, area, zone)


def _apart(pool: list[Area], area: Area, zone: shapely.Geometry) -> list[Area]:
    out = []
    for a in pool:
        shape = loading.area_bng(a)
        if a.pk != area.pk and not (
            shapely.intersects(shape, zone) and not shapely.touches(shape, zone)
        ):
            out.append(a)
    return out


def _series(frame: pl.DataFrame, months: Sequence[date], covered: set[date]) -> np.ndarray:
    """Counts per month from a (source_id, month, category_id, n) frame; NaN for gaps."""
    per = dict(frame.group_by("month").agg(pl.col("n").sum()).iter_rows())
    return np.array(
        [float(per.get(m, 0)) if m in covered else np.nan for m in months], dtype=np.float64
    )


def ring_counts(scope: Scope, ring: shapely.Geometry, first: date, last: date) -> pl.DataFrame:
    """Incidents (of the scope's sources and categories) with a location in the ring, per
    month: the places in its bounding box, kept when the point lies in it (BNG metres)."""
    x0, y0, x1, y1 = shapely.bounds(ring)
    qs = Incident.objects.filter(source_id__in=scope.source_ids, month__gte=first, month__lte=last)
    if scope.category_ids is not None:
        qs = qs.filter(category_id__in=scope.category_ids)
    rows = list(
        qs.filter(
            place__easting__gte=x0,
            place__easting__lte=x1,
            place__northing__gte=y0,
            place__northing__lte=y1,
        )
        .values_list("place__easting", "place__northing", "month")
        .annotate(total=Count("id"))
        .order_by()
    )
    schema = {"month": pl.Date, "n": pl.Int64}
    if not rows:
        return pl.DataFrame([], schema=schema, orient="row")
    e = np.array([r[0] for r in rows], dtype=np.float64)
    n = np.array([r[1] for r in rows], dtype=np.float64)
    inside = shapely.contains_xy(ring, e, n)
    kept = [(r[2], r[3]) for r, ok in zip(rows, inside) if ok]
    return pl.DataFrame(kept, schema=schema, orient="row")


def evaluation_for(
    scope: Scope,
    start: date,
    *,
    months_before: int = 12,
    months_after: int = 12,
    ring_m: int = 500,
    k: int = 5,
) -> EvaluationReport:
    """Before and after ``start`` in the scope's area against chosen comparison areas."""
    area = scope.the_area
    if scope.category_ids is None:
        raise BadQuery("an evaluation needs categories or themes (--category, --theme)")
    if months_before < 3 or months_after < 1:
        raise BadQuery("give at least 3 months before and 1 after the start")
    months = _months(scope, start, months_before, months_after)
    first, last = months[0], months[-1]
    covered = set(selection_coverage(scope.with_period((first, last))).covered)
    outline = loading.area_bng(area)
    zone = shapely.buffer(outline, ring_m)
    ring = shapely.difference(zone, outline)
    pool = _candidates(area, scope, zone, k, months)
    counts = loading.counts_by_area(pool, scope, first, last)
    what = selection_words(scope)
    n_before = sum(1 for m in months if m < start)
    result = evaluate(
        what=what[0].upper() + what[1:],
        months=[month_label(m) for m in months],
        n_before=n_before,
        area=_series(loading.monthly_counts(scope, first, last), months, covered),
        pool=np.array([_series(counts[a.pk], months, covered) for a in pool]).reshape(
            len(pool), len(months)
        ),
        pool_names=[a.name for a in pool],
        ring=_series(ring_counts(scope, ring, first, last), months, covered),
        ring_m=ring_m,
        k=k,
        comparison_word="comparison districts" if area.level == "district" else "comparison wards",
    )
    notes = []
    if area.level == "custom":
        notes.append("Incidents without a location cannot be placed in a custom area or the ring.")
    return EvaluationReport(
        AreaRef.of(area), what, start, tuple(months), n_before, ring_m, result, len(pool),
        tuple(notes),
    )  # fmt: skip


@dataclass(frozen=True)
class ActionEvaluation:
    """The evaluation of a plan action: one report per linked area, or why there is none."""

    reports: tuple[EvaluationReport, ...]
    missing: tuple[str, ...]

    @property
    def outcome(self) -> str:
        """One phrase for a badge beside the delivery RAG."""
        if self.missing:
            return "not evaluated"
        outcomes = {r.result.outcome for r in self.reports}
        return outcomes.pop() if len(outcomes) == 1 else "mixed"

    @property
    def verdict(self) -> str:
        if self.missing:
            return "Not evaluated: " + "; ".join(self.missing) + "."
        if len(self.reports) == 1:
            return self.reports[0].result.verdict
        return " ".join(f"{r.area.name}: {r.result.verdict}" for r in self.reports)


def action_missing(action: Any) -> list[str]:
    """What an action lacks for an evaluation, in words (empty when it has all of it)."""
    missing = []  # .all(), not .exists(): the plan pages prefetch these (no query per action)
    if not action.areas.all():
        missing.append("the action has no linked area")
    if action.start_date is None:
        missing.append("the action has no start date")
    if not action.categories.all() and not action.incident_themes.all():
        missing.append("the action has no incident categories or themes")
    return missing


def evaluation_for_action(action: Any, **options: Any) -> ActionEvaluation:
    """Evaluate a plan action over each of its linked areas (its categories and themes,
    from its start date), or say what it lacks. Read with full access: the caller has
    already checked that the reader may see the action, and the comparison areas are
    shown by name only, with no figures below the force area's wards."""
    from csp_platform.incidents.scope import scope_resolve

    missing = action_missing(action)
    if missing:
        return ActionEvaluation((), tuple(missing))
    # Categories and themes are a union here (scope_resolve would intersect them).
    themes = list(action.incident_themes.values_list("pk", flat=True))
    categories = tuple(
        sorted(
            set(action.categories.values_list("code", flat=True))
            | set(Category.objects.filter(theme__in=themes).values_list("code", flat=True))
        )
    )
    if not categories:
        return ActionEvaluation((), ("the action's incident themes hold no categories",))
    start = action.start_date.replace(day=1)
    reports = []
    try:
        for area in action.areas.order_by("name"):
            scope = scope_resolve(
                FULL_ACCESS, area.code, categories=categories,
                generation=area.generation if area.level == "ward" else None,
                levels=(area.level,),
            )  # fmt: skip
            reports.append(evaluation_for(scope, start, **options))
    except BadQuery as e:  # e.g. no incident source loaded: said in words on the page
        return ActionEvaluation((), (str(e),))
    return ActionEvaluation(tuple(reports), ())
