"""Reads of areas (areas are not user-scoped: every signed-in user may see boundaries)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from django.db.models import QuerySet

from csp_analytics.geo import assign_points, representative_points
from csp_platform.areas.models import Area
from csp_platform.core.errors import BadQuery

LINKED_LEVELS = ("lsoa", "ward", "district")


def area_get_by_code(code: str, *, level: str | None = None) -> Area:
    """The area with this code (newest generation if several); BadQuery if none."""
    qs = Area.objects.filter(code=code)
    if level:
        qs = qs.filter(level=level)
    area = qs.order_by("-generation").first()
    if area is None:
        raise BadQuery(f"no imported area has the code {code!r} (see `csp import-areas`)")
    return area


def area_list(level: str | None = None) -> QuerySet[Area]:
    qs = Area.objects.all()
    return qs.filter(level=level) if level else qs


def area_geometry(area: Area) -> shapely.Geometry:
    return shapely.from_wkb(bytes(area.geometry_wkb))


@dataclass
class AreaIndex:
    """Polygons of the levels every incident is linked to, for bulk point-in-polygon.

    For each level the areas are ordered newest generation first, so where two generations
    overlap a point takes the newest ward (every generation is still counted by selectors
    that need it). LSOAs also carry a best-fit ward, for rows that give an LSOA code but no
    coordinates.
    """

    ids: dict[str, npt.NDArray[np.int64]]
    geoms: dict[str, list[shapely.Geometry]]
    lsoa_by_code: dict[str, int]
    lsoa_fit: dict[int, tuple[int | None, int | None]]

    @classmethod
    def load(cls) -> AreaIndex:
        ids: dict[str, npt.NDArray[np.int64]] = {}
        geoms: dict[str, list[shapely.Geometry]] = {}
        for level in LINKED_LEVELS:
            rows = list(
                Area.objects.filter(level=level)
                .order_by("-generation", "code")
                .values_list("id", "geometry_wkb")
            )
            ids[level] = np.array([r[0] for r in rows], dtype=np.int64)
            geoms[level] = [shapely.from_wkb(bytes(r[1])) for r in rows]
        index = cls(ids, geoms, {}, {})
        lsoas = list(
            Area.objects.filter(level="lsoa").order_by("-generation").values_list("id", "code")
        )
        index.lsoa_by_code = {}
        for area_id, code in lsoas:
            index.lsoa_by_code.setdefault(code, area_id)
        if len(ids["lsoa"]):
            x, y = representative_points(geoms["lsoa"])
            fit = index.assign(x, y, levels=("ward", "district"))
            index.lsoa_fit = {
                int(a): (_none(w), _none(d))
                for a, w, d in zip(ids["lsoa"], fit["ward"], fit["district"])
            }
        return index

    def assign(
        self,
        lon: npt.NDArray[np.float64],
        lat: npt.NDArray[np.float64],
        levels: tuple[str, ...] = LINKED_LEVELS,
    ) -> dict[str, npt.NDArray[np.int64]]:
        """Area id per point for each level, or -1 where the point is in no imported area."""
        out: dict[str, npt.NDArray[np.int64]] = {}
        for level in levels:
            found = assign_points(lon, lat, self.geoms[level])
            ids = self.ids[level]
            out[level] = np.where(found >= 0, ids[np.maximum(found, 0)] if len(ids) else -1, -1)
        return out

    def fill_from_lsoa_codes(
        self,
        assigned: dict[str, npt.NDArray[np.int64]],
        codes: list[str],
        located: npt.NDArray[np.bool_],
    ) -> None:
        """For rows with no point, use the LSOA code given (and its best-fit ward/district).

        Located rows are never moved: the polygons decide for them, even when a point falls in
        a sliver between generalised boundaries (it is then counted as outside every area).
        """
        lsoa = assigned["lsoa"]
        for i in np.flatnonzero((lsoa < 0) & ~located):
            area_id = self.lsoa_by_code.get(codes[i])
            if area_id is None:
                continue
            lsoa[i] = area_id
            ward, district = self.lsoa_fit.get(area_id, (None, None))
            if assigned["ward"][i] < 0 and ward is not None:
                assigned["ward"][i] = ward
            if assigned["district"][i] < 0 and district is not None:
                assigned["district"][i] = district


def _none(value: np.int64) -> int | None:
    return None if value < 0 else int(value)
