"""Places: the distinct locations incidents are recorded at (docs/decisions/0005-places.md).

An import gives every incident a place. :class:`PlaceIndex` keeps, in memory, every place the
database held when the import began plus those the import has made (by hash, id and areas:
about 40 bytes a place), so a block of rows is matched to its places with one join. Only
places never seen before are tested against the area polygons and written. Imports run one
at a time (see ``repository.import_begin``), so the ids it hands out cannot clash with
another import's.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from csp_analytics.geo import to_bng
from csp_platform.areas.selectors import LINKED_LEVELS, AreaIndex

# The location fields of the s.17A record, as the readers give them.
PLACE_FIELDS = (
    "location_precision", "lon", "lat", "easting", "northing", "location_text", "lsoa_given",
)  # fmt: skip
LINK_COLUMNS = ("lsoa_id", "ward_id", "district_id")
PLACE_COLUMNS = ("id", "key", *PLACE_FIELDS, *LINK_COLUMNS)
_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "location_precision": pl.String,
    "lon": pl.Float64,
    "lat": pl.Float64,
    "easting": pl.Float64,
    "northing": pl.Float64,
    "location_text": pl.String,
    "lsoa_given": pl.String,
    "lsoa_id": pl.Int64,
    "ward_id": pl.Int64,
    "district_id": pl.Int64,
}


def place_key(values: tuple[object, ...]) -> str:
    """The digest of one place's fields (in ``PLACE_FIELDS`` order); floats by ``repr``,
    which round-trips exactly."""
    text = "\x1f".join(
        "" if v is None else repr(v) if isinstance(v, float) else str(v) for v in values
    )
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


# In memory a place is found by two 64-bit polars hashes of the fields that identify it
# (128 bits: a clash between two of a million places has odds of about 1 in 10^27). They
# only live for one import; the database keeps ``key``. Easting and northing are left out:
# they follow from longitude and latitude (or gave them), and an import may fill them in
# only for the places it makes.
_HASHES = ("_place_h1", "_place_h2")
_IDENTITY = tuple(f for f in PLACE_FIELDS if f not in ("easting", "northing"))


def _with_hashes(frame: pl.DataFrame) -> pl.DataFrame:
    fields = pl.struct(list(_IDENTITY))
    return frame.with_columns(
        fields.hash(seed=1).alias(_HASHES[0]), fields.hash(seed=2).alias(_HASHES[1])
    )


class PlaceIndex:
    """Every known place, for matching blocks of incidents to places in bulk."""

    def __init__(self, areas: AreaIndex, stored: pl.DataFrame, next_id: int) -> None:
        self.areas = areas
        self.known = _with_hashes(stored).select(*_HASHES, "place_id", *LINK_COLUMNS)
        self.next_id = next_id

    @classmethod
    def empty(cls) -> pl.DataFrame:
        """The frame :meth:`__init__` takes: known places, with ``place_id``."""
        return pl.DataFrame(
            schema={f: _SCHEMA[f] for f in PLACE_FIELDS}
            | {"place_id": pl.Int64}
            | {c: pl.Int64 for c in LINK_COLUMNS}
        )

    def match(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Add ``place_id`` and the place's area links (``LINK_COLUMNS``) to a block of
        incidents.

        Returns the block and the places it holds that no earlier block or import had
        (columns ``PLACE_COLUMNS``), which the caller writes before the incidents.
        """
        frame = _with_hashes(frame)
        fresh = (  # most rows are at known places: leave those out before the unique
            frame.select(*_HASHES, *PLACE_FIELDS)
            .join(self.known, on=list(_HASHES), how="anti")
            .unique(subset=list(_HASHES), maintain_order=True)
        )
        if fresh.height == 0:
            new_places = pl.DataFrame(schema={"id": pl.Int64, "key": pl.String, **_SCHEMA})
        else:
            new_places = self._make(fresh)
            self.known = pl.concat([self.known, new_places.select(self.known.columns)])
            new_places = new_places.rename({"place_id": "id"})
        frame = frame.join(self.known, on=list(_HASHES), how="left", maintain_order="left")
        return frame.drop(*_HASHES), new_places.select(PLACE_COLUMNS)

    def _make(self, fresh: pl.DataFrame) -> pl.DataFrame:
        """Ids, keys, grid references and areas for places never seen before."""
        lon = fresh["lon"].fill_null(np.nan).to_numpy()
        lat = fresh["lat"].fill_null(np.nan).to_numpy()
        located = ~(np.isnan(lon) | np.isnan(lat))
        missing = fresh["easting"].is_null().to_numpy() & located
        if missing.any():
            east, north = to_bng(lon, lat)
            fresh = fresh.with_columns(
                pl.when(pl.Series(missing))
                .then(pl.Series(east))
                .otherwise(pl.col("easting"))
                .alias("easting"),
                pl.when(pl.Series(missing))
                .then(pl.Series(north))
                .otherwise(pl.col("northing"))
                .alias("northing"),
            )
        assigned = self.areas.assign(lon, lat)
        self.areas.fill_from_lsoa_codes(assigned, fresh["lsoa_given"].to_list(), located)
        ids = np.arange(self.next_id, self.next_id + fresh.height, dtype=np.int64)
        self.next_id += fresh.height
        keys = [place_key(row) for row in fresh.select(PLACE_FIELDS).iter_rows()]
        return fresh.with_columns(
            pl.Series("place_id", ids),
            pl.Series("key", keys, dtype=pl.String),
            *[
                pl.Series(f"{level}_id", assigned[level]).replace(-1, None)
                for level in LINKED_LEVELS
            ],
        )
