"""Real police.uk points for the spatial tests and the benchmark, read in place.

Reads the Northumbria and Cleveland street-level files under the shared data folder
(shared/data/SOURCES.md sections 1, 8 and 2) and projects them to British National Grid
with pyproj directly (EPSG:4326 -> EPSG:27700, always_xy). Nothing is copied into the
repository. Month numbers are ``year * 12 + month - 1``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import shapely
from pyproj import Transformer
from shapely.geometry import shape

DATA = Path(os.environ.get("CSP_SHARED", "/work/shared")) / "data"
NORTHUMBRIA = DATA / "police" / "northumbria"
CLEVELAND = DATA / "police" / "cleveland"
NEWCASTLE = DATA / "boundaries" / "districts_2011" / "E08000021.geojson"
CLEVELAND_LADS = ("E06000001", "E06000002", "E06000003", "E06000004")
COLUMNS = ["Month", "Longitude", "Latitude", "Location", "Crime type"]


@cache
def _to_bng() -> Transformer:
    return Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


def month_number(month: str) -> int:
    """``"2021-06"`` -> ``2021 * 12 + 5``."""
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def month_label(number: int) -> str:
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def to_bng_geometry(geom: Any) -> Any:
    tr = _to_bng()
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


@dataclass(frozen=True)
class Points:
    """Incidents with BNG coordinates; every array has one entry per incident."""

    e: np.ndarray
    n: np.ndarray
    month: np.ndarray  # int64 month numbers
    crime_type: np.ndarray  # str
    location: np.ndarray  # str: "On or near ..." text
    lon: np.ndarray
    lat: np.ndarray

    def select(self, keep: np.ndarray) -> Points:
        return Points(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))


def read_files(files: list[Path]) -> Points:
    frames = [pl.read_csv(f, columns=COLUMNS, infer_schema_length=0) for f in files]
    df = pl.concat(frames).filter(pl.col("Longitude").is_not_null() & (pl.col("Longitude") != ""))
    lon = df["Longitude"].cast(pl.Float64).to_numpy()
    lat = df["Latitude"].cast(pl.Float64).to_numpy()
    e, n = _to_bng().transform(lon, lat)
    return Points(
        e=np.asarray(e, dtype=float),
        n=np.asarray(n, dtype=float),
        month=np.array([month_number(m) for m in df["Month"].to_list()], dtype=np.int64),
        crime_type=df["Crime type"].to_numpy().astype(str),
        location=df["Location"].fill_null("").to_numpy().astype(str),
        lon=lon,
        lat=lat,
    )


def cells_sharing_area(outline: Any, size: float) -> int:
    """How many squares of the ``size``-metre National Grid (corners at multiples of
    ``size``) share some area with ``outline``: every square over its bounding box, cut
    with shapely, counted where the cut has an area. A count for tests to expect, worked
    out without csp_analytics' Grid."""
    minx, miny, maxx, maxy = outline.bounds
    xs = np.arange(np.floor(minx / size), np.floor(maxx / size) + 1) * size
    ys = np.arange(np.floor(miny / size), np.floor(maxy / size) + 1) * size
    x, y = (a.ravel() for a in np.meshgrid(xs, ys))
    squares = shapely.box(x, y, x + size, y + size)
    return int((shapely.area(shapely.intersection(outline, squares)) > 0).sum())


@cache
def newcastle_outline() -> Any:
    """Newcastle upon Tyne (E08000021, 2011 district) outline in BNG metres."""
    feature = json.loads(NEWCASTLE.read_text())["features"][0]
    return to_bng_geometry(shape(feature["geometry"]))


@cache
def newcastle_points() -> Points:
    """Every Northumbria incident with coordinates inside Newcastle upon Tyne."""
    files = sorted(NORTHUMBRIA.glob("*/*-northumbria-street.csv.gz"))
    pts = read_files(files)
    inside = shapely.contains_xy(newcastle_outline(), pts.e, pts.n)
    return pts.select(inside)


@cache
def cleveland_wards() -> tuple[tuple[str, ...], tuple[str, ...], tuple[Any, ...]]:
    """(codes, names, BNG polygons) of the 82 Cleveland wards of 2013, in file order."""
    codes, names, geoms = [], [], []
    for lad in CLEVELAND_LADS:
        path = DATA / "boundaries" / "wards_2013" / f"{lad}.geojson"
        for feat in json.loads(path.read_text())["features"]:
            codes.append(feat["properties"]["WD13CD"])
            names.append(feat["properties"]["WD13NM"])
            geoms.append(to_bng_geometry(shape(feat["geometry"])))
    return tuple(codes), tuple(names), tuple(geoms)


def cleveland_points(month: str) -> Points:
    return read_files([CLEVELAND / month / f"{month}-cleveland-street.csv"])
