"""The read path's one scope: which areas, which boundary generation, which months have data.

Every reader of figures (the hub page and its endpoints, the ward profile, SIA, rates,
peers, emerging issues, hotspots, forecasts, exports and the ``csp`` commands) takes a
:class:`Scope`, resolved once at the edge by :func:`scope_resolve`: the view resolves it
with the user's :class:`Access` (the districts of the membership's partnership), a command
with :data:`FULL_ACCESS`. Nothing below the edge looks an area up by code again.

This module is the only place that decides

* which areas a reader may see and which one a code means (:func:`area_resolve`: the
  generation asked for, else the newest generation holding the code);
* which ward generation is current (:func:`newest_generation`) and whether incidents are
  linked to an area by foreign key (:attr:`Scope.linked`; only the newest generation of
  wards, LSOAs and districts is; any other area is counted by point-in-polygon);
* which months have data (:class:`SourceCalendar`, :class:`Coverage`) and which sources
  record the categories asked for (:func:`recording_sources`): a selection that no loaded
  source covers for the period is *not covered*, said in words, never a zero.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
import shapely
from django.db.models import Max, Q
from django.http import Http404

from csp_platform.areas.models import Area
from csp_platform.areas.selectors import area_geometry
from csp_platform.core import audit
from csp_platform.core.errors import BadQuery
from csp_platform.core.selectors import data_owner
from csp_platform.incidents.models import AreaMonthCount, Category, Source, Theme

Period = tuple[date, date]
LINKED_LEVELS = ("lsoa", "ward", "district")
MONTHLY_LEVELS = ("ward", "district")  # the levels AreaMonthCount keeps per area
SCOPE_LEVELS = ("district", "ward", "custom")


def month_label(d: date) -> str:
    return f"{d:%Y-%m}"


def _month_run(first: date, last: date) -> list[date]:
    """Every month from first to last, both included (analysis.periods does the rest)."""
    start, end = first.year * 12 + first.month - 1, last.year * 12 + last.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(start, end + 1)]


# ----------------------------------------------------------------------------------------
# Access: what a reader may see


@dataclass(frozen=True)
class Access:
    """The districts a reader may see (``None``: every area, the command line) and the
    audience the cache keys carry (partnership and role: what changes what is shown)."""

    districts: tuple[int, ...] | None
    audience: str

    def allows(self, area: Area) -> bool:
        if self.districts is None:
            return True
        if area.level == "district":
            return area.pk in self.districts
        return area.parent_id is not None and area.parent_id in self.districts

    def district_areas(self) -> list[Area]:
        qs = Area.objects.filter(level="district").defer("geometry_wkb")
        if self.districts is not None:
            qs = qs.filter(pk__in=self.districts)
        return list(qs.order_by("name"))


FULL_ACCESS = Access(None, "all")


def access_for(membership: Any) -> Access:
    """A membership's access: its partnership's districts (and the areas inside them)."""
    partnership = membership.partnership
    ids = tuple(sorted(partnership.districts.values_list("id", flat=True)))
    return Access(ids, f"partnership={partnership.pk};role={membership.role}")


@audit.owner("area")
def _area_owner(membership: Any, code: str) -> bool:
    """An area's audit trail ("who has seen this") belongs to its partnership's data
    managers; an area outside the partnership is a 404."""
    area_resolve(code, access_for(membership))
    return data_owner(membership)


# ----------------------------------------------------------------------------------------
# Generations


def newest_generations() -> dict[str, str]:
    """The newest boundary generation of each level."""
    rows = Area.objects.values_list("level").annotate(g=Max("generation")).order_by()
    return {level: g for level, g in rows}


def newest_generation(level: str) -> str | None:
    return newest_generations().get(level)


def generations(level: str = "ward") -> list[str]:
    """Every generation of a level held, newest first."""
    found = Area.objects.filter(level=level).values_list("generation", flat=True).distinct()
    return sorted(set(found), reverse=True)


def is_linked(area: Area, newest: dict[str, str] | None = None) -> bool:
    """Are incidents linked to this area by foreign key (newest generation of its level)?"""
    if area.level not in LINKED_LEVELS:
        return False
    newest = newest if newest is not None else newest_generations()
    return bool(area.generation == newest.get(area.level))


# ----------------------------------------------------------------------------------------
# Areas


def area_resolve(
    code: str,
    access: Access = FULL_ACCESS,
    *,
    levels: Sequence[str] | None = None,
    generation: str | None = None,
) -> Area:
    """The area a code means: of the generation asked for, else the newest holding it.

    A reader with restricted access gets 404 for an area outside it (nothing is confirmed
    to outsiders); the command line gets a BadQuery naming the code.
    """
    qs = Area.objects.filter(code=code)
    if levels:
        qs = qs.filter(level__in=list(levels))
    found = [a for a in qs.order_by("-generation") if access.allows(a)]
    if generation:
        found = [a for a in found if a.generation == generation] or found
    if found:
        return found[0]
    if access.districts is not None:
        raise Http404("no such area in this partnership")
    kinds = f" {'/'.join(levels)}" if levels else ""
    raise BadQuery(f"no imported{kinds} area has the code {code!r} (see `csp import-areas`)")


def areas_of_level(
    level: str,
    access: Access = FULL_ACCESS,
    *,
    parent: Area | None = None,
    generation: str | None = None,
) -> list[Area]:
    """The areas of a level the reader may see (one generation: the newest unless asked),
    optionally those of one district, by name; geometries are read when needed."""
    if level not in Area.Level.values:
        raise BadQuery(f"--level must be one of {', '.join(Area.Level.values)}, not {level!r}")
    qs = Area.objects.filter(level=level).defer("geometry_wkb")
    if level != "custom":
        qs = qs.filter(generation=generation or newest_generation(level))
    if parent is not None:
        qs = qs.filter(parent=parent)
    if access.districts is not None:
        field = "pk" if level == "district" else "parent_id"
        qs = qs.filter(**{f"{field}__in": access.districts})
    return list(qs.order_by("name", "code"))


# ----------------------------------------------------------------------------------------
# The scope


@dataclass(frozen=True)
class Scope:
    """What to read: an area (``None``: every district the reader may see) with the ward
    generation its ward figures are for, the incident sources, categories and themes asked
    for, the period, and the reader's access.

    ``category_ids`` None means every category, including incidents whose category is not
    yet known to the crosswalk. ``source_ids`` are the incident sources asked for (all when
    none was named).
    """

    access: Access
    area: Area | None
    districts: tuple[Area, ...]
    generation: str | None
    source_ids: tuple[int, ...]
    category_ids: tuple[int, ...] | None
    period: Period | None = None
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    linked: bool = False

    # -- the area

    @property
    def the_area(self) -> Area:
        """The area, for readers that need one (BadQuery when the scope has none)."""
        if self.area is None:
            raise BadQuery("give an area (--area CODE)")
        return self.area

    @property
    def monthly(self) -> bool:
        """Does the monthly table hold this area's counts?"""
        return self.linked and self.area is not None and self.area.level in MONTHLY_LEVELS

    @property
    def totals_from(self) -> tuple[Area, ...]:
        """The areas whose counts add up to the scope: the area, or the districts."""
        return (self.area,) if self.area is not None else self.districts

    @property
    def label(self) -> str:
        if self.area is None:
            return "every district" if self.access.districts is None else "the partnership"
        level = self.area.get_level_display().lower()
        if self.area.level == "ward":
            return f"{self.area.name} (ward, {self.area.generation} boundaries)"
        return f"{self.area.name} ({level})"

    @property
    def period_or_fail(self) -> Period:
        if self.period is None:
            raise BadQuery("give a period")
        return self.period

    def for_area(self, area: Area) -> Scope:
        """The same selection for another area the reader may see."""
        if not self.access.allows(area) and area.level != "custom":
            raise Http404("no such area in this partnership")
        return dataclasses.replace(
            self,
            area=area,
            generation=area.generation if area.level == "ward" else self.generation,
            linked=is_linked(area),
        )

    def with_period(self, period: Period) -> Scope:
        return dataclasses.replace(self, period=period)

    def with_sources(self, source_ids: Sequence[int]) -> Scope:
        return dataclasses.replace(self, source_ids=tuple(sorted(source_ids)))

    # -- wards shown for it

    @functools.cached_property
    def wards(self) -> list[Area]:
        """The wards the map and ranking show, of the scope's generation: the district's,
        the ward itself, the wards overlapping a custom area, or every ward the reader
        may see."""
        area = self.area
        if area is not None and area.level == "ward":
            return [area]
        if area is not None and area.level == "district":
            return areas_of_level("ward", self.access, parent=area, generation=self.generation)
        every = areas_of_level("ward", self.access, generation=self.generation)
        if area is None:
            return every
        inside = area_geometry(area)
        return [
            w
            for w in Area.objects.filter(pk__in=[w.pk for w in every]).order_by("name")
            if shapely.intersects(inside, area_geometry(w))
        ]

    @property
    def ward_note(self) -> str:
        if self.area is not None and self.area.level not in ("ward", "district"):
            return "Ward figures are for whole wards overlapping the area, not clipped to it."
        return ""

    def cache_key(self) -> list[Any]:
        """Everything that changes the figures, for the cache (the audience is added there)."""
        return [
            self.area.pk if self.area else None,
            self.generation,
            self.source_ids,
            self.category_ids,
            self.period,
            self.access.audience,
        ]


def source_ids(codes: Sequence[str]) -> tuple[int, ...]:
    """Incident source ids for codes (every incident source when none is given); a named
    aggregate-return source is known but has no incidents."""
    qs = Source.objects.filter(kind=Source.Kind.INCIDENTS)
    if not codes:
        return tuple(qs.order_by("id").values_list("id", flat=True))
    known = set(Source.objects.filter(code__in=codes).values_list("code", flat=True))
    missing = sorted(set(codes) - known)
    if missing:
        every = ", ".join(Source.objects.order_by("code").values_list("code", flat=True))
        raise BadQuery(f"no incident source called {', '.join(missing)} (known: {every or 'none'})")
    return tuple(sorted(qs.filter(code__in=codes).values_list("id", flat=True)))


def category_ids(categories: Sequence[str], themes: Sequence[str]) -> tuple[int, ...] | None:
    """Category ids for category and theme codes (both given: categories of those themes)."""
    if not categories and not themes:
        return None
    qs = Category.objects.all()
    if categories:
        known = set(Category.objects.filter(code__in=categories).values_list("code", flat=True))
        if missing := sorted(set(categories) - known):
            raise BadQuery(f"no category called {', '.join(missing)} (see `csp crosswalk`)")
        qs = qs.filter(code__in=categories)
    if themes:
        known = set(Theme.objects.filter(code__in=themes).values_list("code", flat=True))
        if missing := sorted(set(themes) - known):
            all_themes = ", ".join(Theme.objects.values_list("code", flat=True))
            raise BadQuery(f"no theme called {', '.join(missing)} (themes: {all_themes})")
        qs = qs.filter(theme__code__in=themes)
    return tuple(qs.values_list("id", flat=True))


def scope_resolve(
    access: Access = FULL_ACCESS,
    area_code: str | None = None,
    *,
    period: Period | None = None,
    sources: Sequence[str] = (),
    categories: Sequence[str] = (),
    themes: Sequence[str] = (),
    generation: str | None = None,
    levels: Sequence[str] | None = None,
) -> Scope:
    """Resolve codes to a :class:`Scope` once, at the edge, checking access.

    ``generation`` is the ward generation asked for (default: the newest); a ward code
    takes its own generation, so an older ward's figures are for its own boundaries.
    """
    if generation and generation not in generations("ward"):
        held = ", ".join(generations("ward")) or "none"
        raise BadQuery(f"no ward boundaries of generation {generation!r} (held: {held})")
    area = (
        area_resolve(area_code, access, levels=levels, generation=generation) if area_code else None
    )
    if area is not None and area.level == "ward":
        generation = area.generation
    districts = tuple(access.district_areas())
    return Scope(
        access=access,
        area=area,
        districts=districts,
        generation=generation or newest_generation("ward"),
        source_ids=source_ids(sources),
        category_ids=category_ids(categories, themes),
        period=period,
        sources=tuple(sources),
        categories=tuple(categories),
        themes=tuple(themes),
        linked=area is not None and is_linked(area),
    )


# ----------------------------------------------------------------------------------------
# Which months have data


def months_with_data(source_ids_: Sequence[int] | None = None) -> list[date]:
    """Months in which any (of the given) incident source has data, oldest first."""
    qs = AreaMonthCount.objects.filter(
        area__isnull=True, period_months=1, kind=AreaMonthCount.Kind.INCIDENT
    )
    if source_ids_ is not None:
        qs = qs.filter(source_id__in=list(source_ids_))
    return sorted(set(qs.values_list("month", flat=True).distinct()))


def recording_sources(scope: Scope) -> tuple[int, ...]:
    """The scope's incident sources that record any of its categories (have ever counted an
    incident in one of them); every scope source when no category was asked for."""
    if scope.category_ids is None:
        return scope.source_ids
    found = (
        AreaMonthCount.objects.filter(
            area__isnull=True,
            kind=AreaMonthCount.Kind.INCIDENT,
            source_id__in=scope.source_ids,
            category_id__in=scope.category_ids,
        )
        .values_list("source_id", flat=True)
        .distinct()
        .order_by()
    )
    return tuple(sorted(set(found)))


def categories_with_data() -> set[str]:
    """Codes of the categories (and themes) some loaded incident source records."""
    ids = set(
        AreaMonthCount.objects.filter(area__isnull=True, kind=AreaMonthCount.Kind.INCIDENT)
        .values_list("category_id", flat=True)
        .distinct()
        .order_by()
    )
    cats = Category.objects.filter(id__in=[i for i in ids if i is not None])
    return set(cats.values_list("code", flat=True)) | set(
        cats.values_list("theme__code", flat=True)
    )


def selection_words(scope: Scope) -> str:
    """The categories asked for, in words ("deliberate fires and malicious calls")."""
    names: list[str] = []
    if scope.categories:
        names += list(
            Category.objects.filter(code__in=scope.categories).values_list("name", flat=True)
        )
    if scope.themes:
        names += list(Theme.objects.filter(code__in=scope.themes).values_list("name", flat=True))
    words = [n[0].lower() + n[1:] if n[:2] != n[:2].upper() else n for n in sorted(names)]
    if not words:
        return "incidents"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


@dataclass(frozen=True)
class Selection:
    """Whether a scope's selection is covered over its period: the months in which a source
    that records the categories asked for has data (``covered``), and, when none has, the
    words that say so in place of any figure."""

    months: tuple[date, ...]
    covered: tuple[date, ...]
    sources: tuple[int, ...]
    words: str
    returns: bool = False  # a partner's aggregate return covers the selection and period

    @property
    def any(self) -> bool:
        return bool(self.covered)

    @property
    def message(self) -> str:
        """ "No source that records deliberate fires has been loaded for these months"."""
        if self.any:
            return ""
        if self.returns:
            return (
                f"No incident source that records {self.words} has been loaded for these "
                "months; partners' aggregate returns for them are listed by theme and "
                "category, never added to incidents."
            )
        return f"No source that records {self.words} has been loaded for these months."

    def gaps(self) -> list[date]:
        return [m for m in self.months if m not in set(self.covered)]


def selection_coverage(scope: Scope) -> Selection:
    """Coverage of the scope's selection over its period (gaps, never zeros)."""
    first, last = scope.period_or_fail
    months = tuple(_month_run(first, last))
    sources = recording_sources(scope)
    held = set(months_with_data(sources)) if sources else set()
    covered = tuple(m for m in months if m in held)
    return Selection(
        months, covered, sources, selection_words(scope), not covered and _returns(scope)
    )


def _returns(scope: Scope) -> bool:
    """Does an aggregate return count the scope's categories in a month of its period?"""
    first, last = scope.period_or_fail
    qs = AreaMonthCount.objects.filter(
        area__isnull=True,
        kind=AreaMonthCount.Kind.AGGREGATE,
        month__lte=last,
        month__gte=_month_run(date(first.year - 1, first.month, 1), first)[1],
    )
    if scope.sources:
        qs = qs.filter(source__code__in=scope.sources)
    if scope.category_ids is not None:
        qs = qs.filter(category_id__in=scope.category_ids)
    spans = qs.values_list("month", "period_months").distinct().order_by()
    first_n = first.year * 12 + first.month - 1
    return any(m.year * 12 + m.month - 1 + n - 1 >= first_n for m, n in spans)


@dataclass(frozen=True)
class Coverage:
    """Months of a period with data, and the gaps (month -> sources without data)."""

    months: tuple[date, ...]
    gaps: dict[date, tuple[str, ...]]
    sources: tuple[str, ...]

    @property
    def n_months(self) -> int:
        return len(self.months)

    @property
    def month_numbers(self) -> tuple[int, ...]:
        return tuple(m.year * 12 + m.month - 1 for m in self.months)

    def gap_labels(self) -> tuple[str, ...]:
        return tuple(month_label(m) for m in sorted(self.gaps))

    def note(self, what: str) -> str | None:
        if not self.gaps:
            return None
        if not self.sources:
            return f"{what}: no source has ever recorded an incident here, so no month has data."
        parts = [f"{month_label(m)} ({', '.join(s)})" for m, s in sorted(self.gaps.items())]
        return (
            f"{what}: no data for {'; '.join(parts)}. These months are gaps, left out of the "
            f"comparison (never counted as zero): {self.n_months} months with data are used."
        )


@dataclass(frozen=True)
class SourceCalendar:
    """The months each source has data for (any row at all, anywhere), over a span."""

    held: dict[int, set[date]]
    codes: dict[int, str]

    @classmethod
    def load(cls, source_ids_: Iterable[int], first: date, last: date) -> SourceCalendar:
        held: dict[int, set[date]] = {s: set() for s in source_ids_}
        rows = (
            AreaMonthCount.objects.filter(
                Q(month__gte=first, month__lte=last),
                area__isnull=True,
                kind=AreaMonthCount.Kind.INCIDENT,
                source_id__in=list(held),
            )
            .values_list("source_id", "month")
            .distinct()
            .order_by()
        )
        for source_id, month in rows:
            held[source_id].add(month)
        codes = dict(Source.objects.filter(id__in=list(held)).values_list("id", "code"))
        return cls(held, codes)

    def with_data(self) -> list[int]:
        return [s for s, months in self.held.items() if months]

    def coverage(self, sources: Sequence[int], months: Sequence[date]) -> Coverage:
        """Months (of ``months``) in which every one of ``sources`` has data."""
        gaps: dict[date, tuple[str, ...]] = {}
        kept = []
        for m in months:
            lacking = tuple(sorted(self.codes[s] for s in sources if m not in self.held[s]))
            if lacking or not sources:
                gaps[m] = lacking
            else:
                kept.append(m)
        return Coverage(tuple(kept), gaps, tuple(sorted(self.codes[s] for s in sources)))


def covering_sources(
    areas: Sequence[Area], scope: Scope, counts: dict[int, pl.DataFrame], calendar: SourceCalendar
) -> dict[int, list[int]]:
    """The sources whose months decide each area's months with data.

    The sources with incidents in the area in the months counted. For an area with none:
    the sources that have ever recorded an incident of the scope's categories there (a
    ward or district), or in its district (an LSOA or an area with a parent district), so
    that a force without data for the period leaves the area without data, not at zero; a
    ward or district no source has ever recorded in has no data at all. An area with no
    district to go by takes every source of the scope recording its categories that has
    data in the months.
    """
    out = {
        a.pk: sorted(set(counts[a.pk].filter(pl.col("n") > 0)["source_id"].to_list()))
        for a in areas
    }
    newest = newest_generations()
    held_in: dict[int, list[int]] = defaultdict(list)  # area asked about -> areas it decides
    fallback: list[int] = []
    for a in areas:
        if out[a.pk]:
            continue
        if is_linked(a, newest) and a.level in MONTHLY_LEVELS:
            held_in[a.pk].append(a.pk)
        elif getattr(a, "parent_id", None) is not None:
            held_in[int(a.parent_id)].append(a.pk)  # type: ignore[arg-type]
        else:
            fallback.append(a.pk)
    if held_in:
        recorded = Q() if scope.category_ids is None else Q(category_id__in=scope.category_ids)
        ever = (
            AreaMonthCount.objects.filter(
                recorded,
                area__in=list(held_in),
                kind=AreaMonthCount.Kind.INCIDENT,
                source_id__in=scope.source_ids,
            )
            .values_list("area_id", "source_id")
            .distinct()
            .order_by()
        )
        for where, source_id in ever:
            for area_id in held_in[where]:
                out[area_id].append(source_id)
    recording = set(recording_sources(scope))
    for area_id in fallback:
        out[area_id] = [s for s in calendar.with_data() if s in recording]
    return {area_id: sorted(set(s)) for area_id, s in out.items()}


def covered(
    scope: Scope, counts: pl.DataFrame, months: Sequence[date], what: str
) -> tuple[Coverage, pl.DataFrame]:
    """The months of ``months`` with data from every source covering the area, and the
    counts of those months; BadQuery when no month has data."""
    calendar = SourceCalendar.load(scope.source_ids, min(months), max(months))
    sources = covering_sources([scope.the_area], scope, {scope.the_area.pk: counts}, calendar)
    cover = calendar.coverage(sources[scope.the_area.pk], months)
    if not cover.months:
        gaps = sorted({s for lacking in cover.gaps.values() for s in lacking})
        why = f" ({', '.join(gaps)} had none)" if gaps else ""
        raise BadQuery(
            f"{what}: no incident data for {month_label(min(months))} to "
            f"{month_label(max(months))} in {scope.the_area.name}{why}"
        )
    return cover, counts.filter(pl.col("month").is_in(list(cover.months)))
