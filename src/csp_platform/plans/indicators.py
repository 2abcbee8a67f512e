"""The performance management framework: where an indicator's monthly values come from, how
they stand against the target, and how the area compares with the rest of its force.

An :class:`~csp_platform.plans.models.Indicator` names its **provider** in ``source``. A
provider turns the indicator and a run of months into values per month, ``None`` where there
is no data (a gap, never a zero). Two are registered here:

* ``incidents``: computed from the incident store with :func:`incidents.selectors.counts`,
  the function behind ``csp counts`` (so the numbers are the same), for the area, categories
  and themes of ``Indicator.spec``; ``measure`` ``count`` or ``rate_per_1000`` (residents of
  the area). A month no loaded source covers for the categories is a gap.
* ``manual``: the monthly returns partners enter (:class:`IndicatorValue`, written by
  :mod:`csp_platform.plans.indicator_services` with the audit record).

A later module (the case module: "cases") registers its own with :func:`provider`; nothing
else changes. The RAG compares a period's value with the target: within it is green, within
the tolerance beyond it amber, further red, and always said in words with a symbol.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from csp_platform.analysis.periods import add_months, month_label, period_months
from csp_platform.areas.models import Area
from csp_platform.core.errors import BadQuery
from csp_platform.incidents import selectors as incident_selectors
from csp_platform.incidents.scope import (
    FULL_ACCESS,
    Scope,
    areas_of_level,
    generations,
    months_with_data,
    scope_resolve,
    selection_coverage,
)
from csp_platform.plans.models import Indicator, IndicatorValue

Values = dict[date, float | None]


class Provider(Protocol):
    """Where an indicator's values come from."""

    label: str

    def values(self, indicator: Indicator, months: Sequence[date]) -> Values: ...

    def force_comparison(
        self, indicator: Indicator, months: Sequence[date]
    ) -> ForceComparison | None: ...


PROVIDERS: dict[str, Provider] = {}


def provider(name: str) -> Callable[[type[Any]], type[Any]]:
    """Register a provider class under ``Indicator.source`` = ``name``."""

    def register(cls: type[Any]) -> type[Any]:
        PROVIDERS[name] = cls()
        return cls

    return register


def provider_for(indicator: Indicator) -> Provider:
    try:
        return PROVIDERS[indicator.source]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise BadQuery(
            f"indicator {indicator.name!r} has source {indicator.source!r}; known: {known}"
        ) from None


# ----------------------------------------------------------------------------------------
# Computed from incidents


@dataclass(frozen=True)
class ForceRow:
    name: str
    code: str
    count: int | None
    population: int | None
    per_1000: float | None
    ours: bool


@dataclass(frozen=True)
class ForceComparison:
    """The same measure, over the same months, for every district of the force area."""

    months: tuple[date, ...]
    rows: tuple[ForceRow, ...]
    ours: ForceRow | None
    rest: ForceRow | None  # the other districts pooled: "the rest of Cleveland"

    @property
    def words(self) -> str:
        if self.ours is None or self.rest is None:
            return ""
        if self.ours.per_1000 is None or self.rest.per_1000 is None:
            return "No rate per 1,000 residents can be given (population unknown)."
        o, r = self.ours.per_1000, self.rest.per_1000
        how = (
            "higher than" if o > r * 1.05 else "lower than" if o < r * 0.95 else "about the same as"
        )
        n = len(self.months)
        span = f"{month_label(self.months[0])} to {month_label(self.months[-1])}"
        return (
            f"{self.ours.name}: {o:.1f} per 1,000 residents, {how} the rest of the force area "
            f"({r:.1f} per 1,000), over the {n} months with data from {span}."
        )


def _scope(indicator: Indicator, area: Area | None = None) -> Scope:
    spec = indicator.spec or {}
    where = spec.get("area") or {}
    if area is None and not where.get("code"):
        raise BadQuery(f"indicator {indicator.name!r} names no area in its spec")
    # ``generation`` picks a ward's boundaries; other levels take the newest holding the code.
    if area is not None:
        generation = area.generation if area.level == "ward" else None
    else:
        generation = where.get("generation") or None
        if generation not in generations("ward"):
            generation = None
    return scope_resolve(
        FULL_ACCESS,
        area.code if area is not None else where["code"],
        categories=tuple(spec.get("categories") or ()),
        themes=tuple(spec.get("themes") or ()),
        generation=generation,
        levels=(area.level,) if area is not None else None,
    )


def _monthly(scope: Scope, months: Sequence[date]) -> dict[date, int | None]:
    """Incidents per month, as ``csp counts --by month`` gives them; None for gaps."""
    first, last = months[0], months[-1]
    table = incident_selectors.counts(
        scope, incident_selectors.CountQuery(by=("month",), month_from=first, month_to=last)
    )
    found = {r["month"]: r["incidents"] or 0 for r in table.rows}
    covered = set(selection_coverage(scope.with_period((first, last))).covered)
    return {m: (int(found.get(month_label(m), 0)) if m in covered else None) for m in months}


def _per_1000(count: float | None, population: int | None) -> float | None:
    if count is None or not population:
        return None
    return 1000 * count / population


@provider("incidents")
class IncidentsProvider:
    """Computed from the incident store (the spec's area, categories and themes)."""

    label = "Computed from incidents"

    def values(self, indicator: Indicator, months: Sequence[date]) -> Values:
        scope = _scope(indicator)
        counts = _monthly(scope, months)
        if (indicator.spec or {}).get("measure") == "rate_per_1000":
            population = scope.the_area.population
            return {m: _per_1000(c, population) for m, c in counts.items()}
        return {m: (None if c is None else float(c)) for m, c in counts.items()}

    def force_comparison(self, indicator: Indicator, months: Sequence[date]) -> ForceComparison:
        scope = _scope(indicator)
        area = scope.the_area
        home = area if area.level == "district" else area.parent
        districts = areas_of_level("district", FULL_ACCESS)
        rows, held = [], set()
        for d in districts:
            per = _monthly(_scope(indicator, d), months)
            if all(v is None for v in per.values()):
                continue  # a district with no data (another force): not in the comparison
            held |= {m for m, v in per.items() if v is not None}
            n = sum(v for v in per.values() if v is not None)
            rows.append(
                ForceRow(d.name, d.code, n, d.population, _per_1000(n, d.population), d == home)
            )
        ours = next((r for r in rows if r.ours), None)
        others = [r for r in rows if not r.ours]
        rest = None
        if others:
            n = sum(r.count or 0 for r in others)
            pops = [r.population for r in others]
            pop = sum(p for p in pops if p) if all(pops) else None
            rest = ForceRow("Rest of the force area", "", n, pop, _per_1000(n, pop), False)
        return ForceComparison(tuple(sorted(held)), tuple(rows), ours, rest)


@provider("manual")
class ManualProvider:
    """Partners' monthly returns, entered on the indicator page."""

    label = "Manual return"

    def values(self, indicator: Indicator, months: Sequence[date]) -> Values:
        entered = dict(
            IndicatorValue.objects.filter(indicator=indicator, month__in=list(months)).values_list(
                "month", "value"
            )
        )
        return {m: (float(entered[m]) if m in entered else None) for m in months}

    def force_comparison(self, indicator: Indicator, months: Sequence[date]) -> None:
        return None  # returns are the partnership's own: the other districts enter none here


# ----------------------------------------------------------------------------------------
# Against the target


@dataclass(frozen=True)
class Rag:
    """A status against target, always with a word and a symbol."""

    code: str  # green, amber, red, none
    word: str
    icon: str

    @property
    def label(self) -> str:
        return f"{self.icon} {self.word}"


GREEN = Rag("green", "On target", "✓")
AMBER = Rag("amber", "Within tolerance", "!")
RED = Rag("red", "Off target", "✗")
NO_TARGET = Rag("none", "No target set", "–")
NO_DATA = Rag("none", "No data", "–")


def rag_for(
    value: float | None, target: Decimal | None, tolerance: Decimal | None, direction: str
) -> Rag:
    """Green within the target, amber within the tolerance beyond it, red further.

    >>> rag_for(9, Decimal(10), Decimal(2), "lower").word
    'On target'
    >>> rag_for(11.5, Decimal(10), Decimal(2), "lower").word
    'Within tolerance'
    >>> rag_for(7, Decimal(10), Decimal(2), "higher").word
    'Off target'
    """
    if value is None:
        return NO_DATA
    if target is None:
        return NO_TARGET
    t, tol = float(target), float(tolerance or 0)
    beyond = value - t if direction == Indicator.Direction.LOWER else t - value
    if beyond <= 0:
        return GREEN
    return AMBER if beyond <= tol else RED


@dataclass(frozen=True)
class Period:
    label: str
    months: tuple[date, ...]
    value: float | None
    rag: Rag


@dataclass(frozen=True)
class IndicatorReport:
    """An indicator's months, its periods (months or quarters) with RAG, the latest period
    with data, and the force comparison (computed indicators)."""

    indicator: Indicator
    provider_label: str
    values: tuple[tuple[date, float | None], ...]
    periods: tuple[Period, ...]
    latest: Period | None
    comparison: ForceComparison | None

    @property
    def rag(self) -> Rag:
        return self.latest.rag if self.latest is not None else NO_DATA


def _quarters(values: Values, indicator: Indicator) -> list[Period]:
    """Financial-year quarters (April-June is Q1); a quarter with a month missing is a gap."""
    groups: dict[tuple[int, int], list[date]] = {}
    for m in values:
        fy = m.year if m.month >= 4 else m.year - 1
        groups.setdefault((fy, (m.month - 4) % 12 // 3 + 1), []).append(m)
    out = []
    for (fy, q), months in groups.items():
        got = [values[m] for m in months]
        value = None if len(months) < 3 or any(v is None for v in got) else sum(got)  # type: ignore[arg-type]
        rag = rag_for(value, indicator.target, indicator.tolerance, indicator.direction)
        out.append(Period(f"{fy}-{(fy + 1) % 100:02d} Q{q}", tuple(months), value, rag))
    return out


def default_months(n: int = 12) -> list[date]:
    """The last ``n`` months up to the newest month any incident source has data for (or
    up to last month when no source is loaded)."""
    held = months_with_data()
    last = held[-1] if held else add_months(date.today().replace(day=1), -1)
    return period_months((add_months(last, -(n - 1)), last))


def indicator_report(indicator: Indicator, months: Sequence[date] | None = None) -> IndicatorReport:
    months = list(months or default_months())
    source = provider_for(indicator)
    values = source.values(indicator, months)
    if indicator.frequency == Indicator.Frequency.QUARTERLY:
        periods = _quarters(values, indicator)
    else:
        periods = [
            Period(
                month_label(m),
                (m,),
                v,
                rag_for(v, indicator.target, indicator.tolerance, indicator.direction),
            )
            for m, v in values.items()
        ]
    latest = next((p for p in reversed(periods) if p.value is not None), None)
    return IndicatorReport(
        indicator, source.label, tuple(values.items()), tuple(periods), latest,
        source.force_comparison(indicator, months),
    )  # fmt: skip


# ----------------------------------------------------------------------------------------
# Access-checked reads


def indicator_list_visible_to(membership: Any) -> Any:
    """The indicators of the member's partnership."""
    return Indicator.objects.filter(partnership_id=membership.partnership_id).select_related(
        "owner", "partnership"
    )


def indicator_get_for(membership: Any, indicator_uuid: Any) -> Indicator:
    """An indicator of the member's partnership, or 404 (outsiders learn nothing)."""
    from django.http import Http404

    found: Indicator | None = (
        indicator_list_visible_to(membership).filter(uuid=indicator_uuid).first()
    )
    if found is None:
        raise Http404("No such indicator")
    return found


def entered_returns(indicator: Indicator) -> Any:
    """The returns entered, newest month first, with who entered them and when."""
    return (
        IndicatorValue.objects.filter(indicator=indicator)
        .select_related("entered_by")
        .order_by("-month")
    )
