"""Writes for areas: boundary import and population. Each is one transaction."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from django.db import transaction
from django.utils import timezone
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from csp_analytics.geo import assign_points, representative_points
from csp_platform.areas.models import Area
from csp_platform.core.errors import ImportRejected

# ONS-style property names: (code, name, generation) for each level.
_DETECT = {
    "ward": re.compile(r"^WD(\d\d)CD$"),
    "lsoa": re.compile(r"^LSOA(\d\d)CD$"),
    "msoa": re.compile(r"^MSOA(\d\d)CD$"),
    "district": re.compile(r"^(?:LAD|LA)(\d\d)CD$"),
}
_DISTRICT_CODE = re.compile(r"^[EWSN]0[6-9]\d{6}$")


@dataclass(frozen=True)
class AreaImportResult:
    level: str
    generation: str
    created: int
    updated: int
    with_parent: int
    files: tuple[str, ...]
    dry_run: bool

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        return (
            f"{verb} {self.created + self.updated} {self.level} areas (generation "
            f"{self.generation}): {self.created} new, {self.updated} updated, "
            f"{self.with_parent} with a parent district, from {len(self.files)} file(s)"
        )


def _detect_fields(props: dict[str, object], level: str, file: str) -> tuple[str, str, str]:
    pattern = _DETECT.get(level)
    if pattern:
        for key in props:
            found = pattern.match(key)
            if found:
                name_key = key[:-2] + "NM"
                if name_key not in props:
                    raise ImportRejected(f"{file}: found code property {key!r} but no {name_key!r}")
                return key, name_key, "20" + found.group(1)
    raise ImportRejected(
        f"{file}: cannot tell which properties hold the {level} code and name "
        f"(properties are {', '.join(sorted(props))}); give --code-field and --name-field"
    )


def _read_features(path: Path) -> list[dict[str, object]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ImportRejected(f"{path}: not a readable GeoJSON file ({exc})") from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ImportRejected(f"{path}: not a GeoJSON FeatureCollection")
    crs = ((data.get("crs") or {}).get("properties") or {}).get("name", "")
    if crs and not re.search(r"CRS84|4326", str(crs)):
        raise ImportRejected(f"{path}: coordinates must be WGS84 (CRS84), not {crs}")
    features = data.get("features") or []
    if not features:
        raise ImportRejected(f"{path}: the file has no features")
    return list(features)


def _area_rows(
    paths: Sequence[Path],
    level: str,
    generation: str | None,
    code_field: str | None,
    name_field: str | None,
) -> tuple[list[dict[str, object]], str]:
    rows: list[dict[str, object]] = []
    seen: dict[str, str] = {}
    detected_generation = generation
    for path in paths:
        for index, feature in enumerate(_read_features(path), start=1):
            props = dict(feature.get("properties") or {})  # type: ignore[call-overload]
            where = f"{path}: feature {index}"
            if code_field and name_field:
                ckey, nkey, gen = code_field, name_field, generation or ""
            else:
                ckey, nkey, gen = _detect_fields(props, level, str(path))
            detected_generation = detected_generation or gen
            code, name = props.get(ckey), props.get(nkey)
            if not code or not name:
                raise ImportRejected(f"{where}: property {ckey!r} or {nkey!r} is empty")
            try:
                geom = shape(feature["geometry"])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ImportRejected(f"{where} ({code}): geometry is missing or invalid") from exc
            if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
                raise ImportRejected(f"{where} ({code}): geometry must be a (Multi)Polygon")
            if not geom.is_valid:
                geom = shapely.make_valid(geom)
            minx, miny, maxx, maxy = geom.bounds
            if minx < -10 or maxx > 3 or miny < 49 or maxy > 61.5:
                raise ImportRejected(f"{where} ({code}): coordinates are not WGS84 in the UK")
            if str(code) in seen:
                raise ImportRejected(f"{where}: code {code} appears twice ({seen[str(code)]})")
            seen[str(code)] = where
            parent_hint = _parent_hint(props, path)
            rows.append(
                {
                    "code": str(code),
                    "name": str(name).strip(),
                    "geom": geom,
                    "parent_hint": parent_hint,
                    "file": str(path),
                }
            )
    if not detected_generation:
        raise ImportRejected("give --generation: it cannot be read from the property names")
    return rows, detected_generation


def _parent_hint(props: dict[str, object], path: Path) -> str | None:
    for key, value in props.items():
        if re.match(r"^LAD?\d\dCD$", key) and value:
            return str(value)
    return path.stem if _DISTRICT_CODE.match(path.stem) else None


def _parents(rows: list[dict[str, object]], level: str) -> list[Area | None]:
    """The district each area lies in: by the code the data give, else by best fit."""
    if level == "district":
        return [None] * len(rows)
    districts = list(Area.objects.filter(level=Area.Level.DISTRICT).order_by("-generation"))
    by_code = {d.code: d for d in districts}
    parents: list[Area | None] = [by_code.get(str(r["parent_hint"])) for r in rows]
    missing = [i for i, p in enumerate(parents) if p is None]
    if missing and districts:
        geoms = [shapely.from_wkb(bytes(d.geometry_wkb)) for d in districts]
        x, y = representative_points([rows[i]["geom"] for i in missing])
        found = assign_points(x, y, geoms)
        for i, j in zip(missing, found):
            if j >= 0:
                parents[i] = districts[j]
    return parents


@transaction.atomic
def areas_import(
    paths: Sequence[Path],
    *,
    level: str,
    generation: str | None = None,
    code_field: str | None = None,
    name_field: str | None = None,
    dry_run: bool = False,
    after_import: Callable[[], object] | None = None,
) -> AreaImportResult:
    """Import (or update) areas from GeoJSON files; all files or none.

    Areas are matched on (level, code, generation): importing the same file twice updates in
    place. ``after_import`` runs in the same transaction (the incident store uses it to
    re-assign incidents to the new areas).
    """
    if level not in Area.Level.values:
        raise ImportRejected(f"unknown level {level!r}; use one of {', '.join(Area.Level.values)}")
    if bool(code_field) != bool(name_field):
        raise ImportRejected("give both --code-field and --name-field, or neither")
    if level == "custom" and not generation:
        generation = "custom"
    rows, gen = _area_rows(paths, level, generation, code_field, name_field)
    existing = {a.code: a for a in Area.objects.filter(level=level, generation=gen)}
    parents = _parents(rows, level)
    created = updated = 0
    for row, parent in zip(rows, parents):
        geom = row["geom"]
        assert isinstance(geom, BaseGeometry)
        minx, miny, maxx, maxy = geom.bounds
        values = dict(
            name=row["name"],
            parent=parent,
            geometry_wkb=shapely.to_wkb(geom),
            min_lon=minx,
            min_lat=miny,
            max_lon=maxx,
            max_lat=maxy,
            source_file=row["file"],
        )
        area = existing.get(str(row["code"]))
        if area is None:
            Area.objects.create(level=level, code=str(row["code"]), generation=gen, **values)
            created += 1
        else:
            for key, value in values.items():
                setattr(area, key, value)
            area.save()
            updated += 1
    if level == "district":
        _link_children_to(gen)
    if after_import is not None:
        after_import()
    result = AreaImportResult(
        level,
        gen,
        created,
        updated,
        sum(p is not None for p in parents),
        tuple(map(str, paths)),
        dry_run,
    )
    if dry_run:
        transaction.set_rollback(True)
    return result


def _link_children_to(generation: str) -> None:
    """Areas imported before their districts get their parent once the districts arrive."""
    orphans = list(Area.objects.filter(parent__isnull=True).exclude(level=Area.Level.DISTRICT))
    if not orphans:
        return
    rows = [{"geom": shapely.from_wkb(bytes(a.geometry_wkb)), "parent_hint": None} for a in orphans]
    for area, parent in zip(orphans, _parents(rows, "ward")):
        if parent is not None:
            area.parent = parent
            area.save(update_fields=["parent"])


@dataclass(frozen=True)
class PopulationResult:
    lsoas_matched: int
    rows_read: int
    areas_updated: int

    def summary(self) -> str:
        return (
            f"population: {self.rows_read} census rows read, {self.lsoas_matched} imported "
            f"LSOAs matched, {self.areas_updated} larger areas summed from them"
        )


def _read_census(path: Path) -> tuple[dict[str, int], int]:
    """LSOA code -> all usual residents, from an ONS census table of LSOA counts."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ImportRejected(f"{path}: cannot be read ({exc})") from exc
    with handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        try:
            code_i = next(
                i
                for i, h in enumerate(header)
                if h.strip().lower() in ("lsoa code", "lsoa11cd", "lsoa21cd", "geography code")
            )
            pop_i = next(
                i
                for i, h in enumerate(header)
                if h.strip().lower()
                in ("persons", "all usual residents", "observation", "population")
            )
        except StopIteration:
            raise ImportRejected(
                f"{path}: header must name an LSOA code column and a Persons "
                f"column (found {header})"
            ) from None
        values: dict[str, int] = {}
        rows = 0
        for row_number, record in enumerate(reader, start=1):
            rows += 1
            if len(record) != len(header):
                raise ImportRejected(f"{path}: row {row_number}: expected {len(header)} fields")
            raw = record[pop_i].replace(",", "").strip()
            if not raw.isdigit():
                raise ImportRejected(
                    f"{path}: row {row_number}, column '{header[pop_i]}': "
                    f"{record[pop_i]!r} is not a whole number"
                )
            values[record[code_i].strip()] = int(raw)
    return values, rows


@transaction.atomic
def population_import(path: Path, *, dry_run: bool = False) -> PopulationResult:
    """Set LSOA populations from a census table and sum them up to every larger area.

    An LSOA counts towards the ward, MSOA, district or custom area containing its
    representative point (best fit; LSOAs nest exactly in districts and MSOAs, nearly in
    wards). docs/data-model.md#population.
    """
    values, rows = _read_census(path)
    lsoas = list(Area.objects.filter(level=Area.Level.LSOA))
    matched = [a for a in lsoas if a.code in values]
    now = timezone.now()
    for area in matched:
        area.population = values[area.code]
        area.population_source = path.name
        area.imported_at = now  # the stamp cached figures are keyed by (core/cache.py)
    Area.objects.bulk_update(matched, ["population", "population_source", "imported_at"])
    # Larger areas are summed from one LSOA generation only, the census's own (the one most
    # of its codes match): 2011 and 2021 LSOAs share most codes, and both would count twice.
    by_generation: dict[str, list[Area]] = {}
    for area in matched:
        by_generation.setdefault(area.generation, []).append(area)
    census = max(by_generation.values(), key=len, default=[])
    updated = _sum_population_up(census, path.name)
    if dry_run:
        transaction.set_rollback(True)
    return PopulationResult(len(matched), rows, updated)


def _sum_population_up(lsoas: list[Area], source: str) -> int:
    if not lsoas:
        return 0
    x, y = representative_points([shapely.from_wkb(bytes(a.geometry_wkb)) for a in lsoas])
    pops = np.array([a.population or 0 for a in lsoas])
    updated = 0
    larger = Area.objects.exclude(level=Area.Level.LSOA)
    groups: dict[tuple[str, str], list[Area]] = {}
    for area in larger:
        groups.setdefault((area.level, area.generation), []).append(area)
    for areas in groups.values():
        found = assign_points(x, y, [shapely.from_wkb(bytes(a.geometry_wkb)) for a in areas])
        totals = np.bincount(found[found >= 0], weights=pops[found >= 0], minlength=len(areas))
        now = timezone.now()
        for area, total in zip(areas, totals):
            area.population = int(total) if total > 0 else None
            area.population_source = f"sum of 2011 LSOAs ({source})" if total > 0 else ""
            area.imported_at = now
        Area.objects.bulk_update(areas, ["population", "population_source", "imported_at"])
        updated += int((totals > 0).sum())
    return updated
