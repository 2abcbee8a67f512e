"""Writes to the incident store: imports (all-or-nothing, idempotent) and re-linking.

One code path serves the ``csp import-incidents`` command and the upload page. Everything an
import does happens in one database transaction: a bad row, a killed process or a dry run
leaves the database as it was.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from django.db import connection, transaction
from django.utils.text import slugify

from csp_analytics import io as readers
from csp_platform.areas.models import Area
from csp_platform.areas.selectors import AreaIndex
from csp_platform.core.errors import BadQuery, ImportRejected
from csp_platform.core.models import Organisation, Partnership
from csp_platform.incidents import repository
from csp_platform.incidents.limits import import_limits, mapping_read
from csp_platform.incidents.models import (
    AggregateRecord,
    Crosswalk,
    ImportBatch,
    Incident,
    LocationPrecision,
    Place,
    Source,
)
from csp_platform.incidents.parsed import parse_first
from csp_platform.incidents.places import LINK_COLUMNS, PlaceIndex
from csp_platform.incidents.reference import (
    crosswalk_as_dict,
    crosswalk_in_force,
    crosswalk_latest,
    crosswalk_save,
    crosswalk_store,
    reference_data_ensure,
)

POLICE_UK_IDENTITY = (
    "Rows with a Crime ID are identified by it. Rows without one (all anti-social behaviour) "
    "are identified by a digest of the whole row, which includes the month, plus their "
    "occurrence number among identical rows in the same file."
)
MAPPED_IDENTITY = (
    "Rows are identified by the reference column the mapping names; rows without a reference "
    "by a digest of the whole row plus their occurrence number among identical rows."
)
AGGREGATE_IDENTITY = "One count per area code, category and period; a repeat is a duplicate."

Progress = Callable[[Iterable[Path]], Iterable[Path]]


@dataclass(frozen=True)
class Owner:
    """Whose an import is (docs/importing.md#ownership).

    ``partnership`` set: an upload through that partnership's page by a member of
    ``organisation``; it may only add to or create sources of that organisation in that
    partnership, and every row must lie in the partnership's districts. ``partnership``
    None: the operator's ``csp import-incidents``, with full power; ``organisation`` (its
    ``--organisation``) then owns the sources, or, when None, the force ("Falls within") or
    the mapping's organisation does.
    """

    organisation: Organisation | None = None
    partnership: Partnership | None = None

    @property
    def is_upload(self) -> bool:
        return self.partnership is not None


OPERATOR = Owner()


def _names_organisation(name: str, organisation: Organisation) -> bool:
    """Does a name in a file or mapping ("Cleveland Police") name this organisation?"""
    return slugify(name)[:80] == organisation.slug or name.strip().casefold() == (
        organisation.name.strip().casefold()
    )


@dataclass
class ImportResult:
    """What an import did (or, in a dry run, would do)."""

    dry_run: bool
    files: list[readers.FileInfo] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_new: int = 0
    rows_excluded: int = 0
    rows_unknown_category: int = 0
    rows_without_location: int = 0
    rows_outside_areas: int = 0
    rows_remapped: int = 0  # stored rows given a new category by a changed crosswalk
    rows_not_map_points: int = 0  # said to be at map points, but not at a police.uk one
    months: set[date] = field(default_factory=set)

    @property
    def rows_duplicate(self) -> int:
        return self.rows_read - self.rows_excluded - self.rows_new

    def summary(self) -> str:
        verb = "would add" if self.dry_run else "added"
        span = (
            f", months {min(self.months):%Y-%m} to {max(self.months):%Y-%m}" if self.months else ""
        )
        return (
            f"{len(self.files)} file(s), {self.rows_read} rows read: {verb} {self.rows_new} new, "
            f"{self.rows_duplicate} already stored, {self.rows_excluded} excluded by the "
            f"mapping; {self.rows_unknown_category} with an unknown category; of the new rows "
            f"{self.rows_without_location} without a location and {self.rows_outside_areas} "
            f"outside every imported area{span}"
            + (
                f"; the changed mapping re-mapped {self.rows_remapped} stored rows"
                if self.rows_remapped
                else ""
            )
            + (
                f"; {self.rows_not_map_points} rows the mapping called anonymised map points "
                "are not at a police.uk map point: stored as exact locations (never published)"
                if self.rows_not_map_points
                else ""
            )
        )


class _Confinement:
    """The areas an upload through a partnership's page may write into: its districts and
    the areas inside them. A row anywhere else refuses the whole upload."""

    SHOWN = 3  # rows named in the message

    def __init__(self, partnership: Partnership) -> None:
        self.partnership = partnership
        codes = list(partnership.districts.values_list("code", flat=True))
        districts = Area.objects.filter(level="district", code__in=codes)
        self.districts = set(districts.values_list("id", flat=True))
        self.areas = self.districts | set(
            Area.objects.filter(parent__in=districts).values_list("id", flat=True)
        )
        self.lsoa_codes = list(
            Area.objects.filter(level="lsoa", parent__in=districts).values_list("code", flat=True)
        )
        self.names = dict(Area.objects.filter(level="district").values_list("id", "name"))

    def _refuse(self, bad: pl.DataFrame, where: str, total: int) -> None:
        rows = "; ".join(
            f"{r['file']}: row {r['row']} ({where.format(**r)})"
            for r in bad.head(self.SHOWN).iter_rows(named=True)
        )
        raise ImportRejected(
            f"{total} row(s) are outside {self.partnership.name}'s districts, e.g. {rows}. "
            f"An upload can only add rows in the partnership's own districts. "
            "Nothing was imported."
        )

    def check_incidents(self, frame: pl.DataFrame, *, shared: bool) -> None:
        """Refuse rows placed in another district. A row in no district at all (a point in
        a gap of the generalised boundaries, or no point) passes if the LSOA it gives is
        one of the partnership's, or, when the source is the partnership's own, if it has
        no point either (nothing of it shows outside the partnership)."""
        district = frame["district_id"]
        outside = district.is_not_null() & ~district.is_in(list(self.districts))
        given_here = frame["lsoa_given"].is_in(self.lsoa_codes).fill_null(False)
        must_be_placed = frame["lon"].is_not_null() | pl.lit(shared)
        nowhere = district.is_null() & ~given_here & must_be_placed
        bad = frame.filter(outside | nowhere)
        if bad.height:
            bad = bad.with_columns(
                pl.when(pl.col("district_id").is_null())
                .then(pl.lit("in no district of the partnership"))
                .otherwise(
                    pl.col("district_id").replace_strict(
                        self.names, default="another area", return_dtype=pl.String
                    )
                )
                .alias("where")
            )
            self._refuse(bad, "{where}", bad.height)

    def check_aggregates(self, frame: pl.DataFrame) -> None:
        bad = frame.filter(~frame["area_id"].is_in(list(self.areas)).fill_null(False))
        if bad.height:
            self._refuse(bad, "area {area_code_given}", bad.height)


@dataclass
class _Block:
    """A block of rows prepared by :meth:`_Importer.prepare`: categorised."""

    frame: pl.DataFrame
    read: dict[str | None, int]  # rows read per organisation, before any was excluded


def _identity_rule(kind: str, fmt: str) -> str:
    if kind == Source.Kind.AGGREGATE:
        return AGGREGATE_IDENTITY
    return POLICE_UK_IDENTITY if fmt == "police-uk" else MAPPED_IDENTITY


def _owning_organisation(owner: Owner, named: str, named_kind: str, where: str) -> Organisation:
    """The organisation that owns the source: an uploader's own (and the file or mapping
    must name it), the operator's ``--organisation``, or the one the file names."""
    if owner.organisation is not None:
        if owner.is_upload and not _names_organisation(named, owner.organisation):
            assert owner.partnership is not None
            raise ImportRejected(
                f"{where} is {named!r}, but you upload for {owner.organisation.name}: an upload "
                f"can only add to or create sources of {owner.organisation.name} in "
                f"{owner.partnership.name}. Nothing was imported."
            )
        return owner.organisation
    org, _ = Organisation.objects.get_or_create(
        slug=slugify(named)[:80], defaults={"name": named, "kind": named_kind}
    )
    return org


def _check_source_owner(source: Source, org: Organisation, owner: Owner) -> None:
    """An existing source is added to only by its own organisation, and through the page
    only in the partnership it belongs to (or, for a shared source, any of its partnerships)."""
    if source.organisation_id == org.pk and (
        not owner.is_upload or source.partnership_id in (None, owner.partnership.pk)  # type: ignore[union-attr]
    ):
        return
    held_by = source.organisation.name + (
        f" in {source.partnership.name}" if source.partnership_id else ""  # type: ignore[union-attr]
    )
    if owner.is_upload:
        raise ImportRejected(
            f"source {source.code!r} belongs to {held_by}: an upload can only add to or create "
            f"sources of {org.name} in {owner.partnership.name}; give the mapping a source "  # type: ignore[union-attr]
            "code of your own. Nothing was imported."
        )
    raise ImportRejected(
        f"source {source.code!r} belongs to {held_by}, not {org.name} "
        "(check --organisation). Nothing was imported."
    )


def _source_for(
    *,
    code: str,
    name: str,
    organisation: str,
    organisation_kind: str,
    kind: str,
    scheme: str,
    fmt: str,
    owner: Owner = OPERATOR,
    where: str = "the source's organisation",
) -> Source:
    org = _owning_organisation(owner, organisation, organisation_kind, where)
    source, created = Source.objects.select_related("organisation", "partnership").get_or_create(
        code=code,
        defaults=dict(
            name=name,
            organisation=org,
            # created through a partnership's page: that partnership's own; else shared
            partnership=owner.partnership if fmt != "police-uk" else None,
            kind=kind,
            scheme=scheme,
            format=fmt,
            identity_rule=_identity_rule(kind, fmt),
        ),
    )
    if not created:
        _check_source_owner(source, org, owner)
    if not created and (source.kind != kind or source.scheme != scheme):
        raise ImportRejected(
            f"source {code!r} already holds {source.get_kind_display().lower()} under the "
            f"{source.scheme!r} scheme; this mapping says {kind} under {scheme!r}"
        )
    return source


class _Importer:
    """The state of one import while it runs inside its transaction."""

    def __init__(self, result: ImportResult, by_user: str, owner: Owner) -> None:
        self.result = result
        self.by_user = by_user
        self.owner = owner
        # whose crosswalk categorises this import's rows (None: the reference)
        self.crosswalk_organisation: Organisation | None = owner.organisation
        self.allowed = _Confinement(owner.partnership) if owner.partnership else None
        self.map_points: pl.DataFrame | None = None  # police.uk map points, when needed
        repository.import_begin()
        self.places: PlaceIndex | None = None
        self.writer: _Writer | None = None
        self.bulk_load = False  # indexes dropped for a first load (repository.bulk_load_begin)
        self.months_with_rows: set[tuple[int, date]] = set()
        self.batches: dict[int, ImportBatch] = {}
        self.touched: dict[int, set[date]] = {}
        # counts of the new rows, per source and month (see _count)
        self.increments: dict[int, dict[date, list[pl.DataFrame]]] = {}
        self.increment_rows = 0
        self.counted = False  # counts of new rows written or to write (finish)
        # (source, month) pairs whose counts are in the tables (held before, or added)
        self.months_before: set[tuple[int, date]] = set()
        self.file_months: list[set[tuple[Any, date]]] = []  # files still to import
        self.files_left: Counter[tuple[Any, date]] = Counter()
        self.stored: dict[tuple[int, date], pl.Series] = {}
        self.crosswalks: dict[str, tuple[Crosswalk | None, dict[str, int | None], set[str]]] = {}

    def crosswalk(self, scheme: str) -> tuple[Crosswalk | None, dict[str, int | None], set[str]]:
        if scheme not in self.crosswalks:
            cw = crosswalk_in_force(scheme, self.crosswalk_organisation)
            self.crosswalks[scheme] = (cw, *crosswalk_as_dict(cw))
        return self.crosswalks[scheme]

    def batch(self, source: Source, mapping: dict[str, object] | None) -> ImportBatch:
        if source.id not in self.batches:
            self.drain()
            self.batches[source.id] = ImportBatch.objects.create(
                source=source,
                crosswalk=self.crosswalk(source.scheme)[0],
                mapping=mapping,
                by_user=self.by_user,
                organisation=self.owner.organisation or source.organisation,
                partnership=self.owner.partnership,
            )
        return self.batches[source.id]

    def stored_idents(self, source_id: int, months: set[date]) -> pl.Series:
        """Identities already stored for these months of a source.

        Each month is read from the database once, when a block first touches it, then kept
        up to date as rows are written. Months the current block does not touch are let go,
        so memory holds about one month's identities (police.uk files are one month each);
        a file with months out of order only costs a re-read.
        """
        for key in [k for k in self.stored if k[0] == source_id and k[1] not in months]:
            del self.stored[key]
        for month in months:
            if (source_id, month) in self.stored:
                continue
            if (source_id, month) in self.months_with_rows:
                self.drain()
                self.stored[(source_id, month)] = repository.idents_stored(source_id, month, month)
            else:  # nothing stored for this month: no need to ask the database
                self.stored[(source_id, month)] = pl.Series("ident", [], dtype=pl.String)
        parts = [self.stored[(source_id, m)] for m in months]
        return pl.concat(parts) if parts else pl.Series("ident", [], dtype=pl.String)

    def categorise(self, frame: pl.DataFrame, scheme: str, unlisted: str) -> pl.DataFrame:
        """Add category_id; drop rows the crosswalk excludes (counted, never silent)."""
        _, mapped, excluded = self.crosswalk(scheme)
        skipped = frame["excluded"].fill_null(False)
        self.result.rows_excluded += int(skipped.sum())
        frame = frame.filter(~skipped)
        known = frame["source_category"].is_in(list(mapped))
        drop = frame["source_category"].is_in(list(excluded))
        if unlisted == "exclude":
            drop = drop | ~known
        self.result.rows_excluded += int(drop.sum())
        frame = frame.filter(~drop)
        self.result.rows_unknown_category += int(
            (~frame["source_category"].is_in(list(mapped))).sum()
        )
        return frame.with_columns(
            pl.col("source_category")
            .replace_strict(mapped, default=None, return_dtype=pl.Int64)
            .alias("category_id")
        )

    def start_incidents(self, months: list[set[tuple[Any, date]]]) -> None:
        """Load what storing incidents needs and start the writer (the read-ahead thread may
        be reading meanwhile: it needs only the crosswalk, loaded before it starts, and never
        touches the database). ``months``: the (organisation, month) pairs of each file's
        rows, files in the order they will be imported (see :meth:`file_done`)."""
        if self.places is None:
            known, next_id = repository.places_stored()
            self.places = PlaceIndex(AreaIndex.load(), known, next_id)
            self.months_with_rows = repository.months_stored()
            self.months_before = set(self.months_with_rows)
            self.bulk_load = repository.bulk_load_begin()
            self.writer = _Writer(repository.raw_connection())
        self.file_months = list(months)
        self.files_left = Counter(pair for file in months for pair in file)

    def file_done(self, sources: dict[Any, Source]) -> None:
        """After each file: the counts of a month that no later file of the import holds
        are complete. Where the source held no incidents in that month before, they are
        written now, by the writer, while the next files are matched (the other months are
        added to the stored counts by :meth:`finish`)."""
        for organisation, month in self.file_months.pop(0):
            self.files_left[(organisation, month)] -= 1
            source = sources.get(organisation)
            if self.files_left[(organisation, month)] or source is None:
                continue
            parts = self.increments.get(source.id, {})
            if (source.id, month) in self.months_before or month not in parts:
                continue
            counts = _summed(parts.pop(month))
            self.increment_rows -= min(self.increment_rows, counts.height)
            self.counted = True
            assert self.writer is not None
            for bulk in repository.counts_bulk_new(
                source.id,
                _monthly_increments(counts),
                counts.select("place_id", *repository.DETAIL_KEYS, "n"),
                _subcategory_increments(counts),
            ):
                self.writer.run(bulk.write)

    def drain(self) -> None:
        """Wait until the writer has written everything given to it, before this thread
        uses the connection itself."""
        if self.writer is not None:
            self.writer.drain()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def prepare(self, frame: pl.DataFrame, scheme: str, unlisted: str) -> _Block:
        """The database-free work on a block, run in the read-ahead thread: categories, and
        each identity once per organisation (a block's repeats of a row are one incident)."""
        read = dict(frame["organisation"].value_counts().iter_rows())
        frame = self.categorise(frame, scheme, unlisted)
        once = ["ident"] if len(read) == 1 else ["organisation", "ident"]
        return _Block(frame.unique(subset=once, keep="first", maintain_order=True), read)

    def add_incidents(
        self, frame: pl.DataFrame, read: int, source: Source, mapping: dict[str, object] | None
    ) -> None:
        """Store the new rows of a prepared block, and the places first seen in them.
        ``read``: the rows of the file these came from."""
        batch = self.batch(source, mapping)
        batch.rows_read += read
        if frame.height == 0:
            return
        stored = self.stored_idents(source.id, set(frame["month"].unique().to_list()))
        new = frame  # each identity once already (prepare)
        if stored.len():
            new = new.join(stored.to_frame(), on="ident", how="anti", maintain_order="left")
        self._note_months(source, frame)
        if new.height == 0:
            return
        assert self.places is not None and self.writer is not None, "start_incidents() first"
        if source.format != "police-uk":
            new = self._check_map_points(new)
        new, new_places = self.places.match(new)
        if self.allowed is not None:
            self.allowed.check_incidents(new, shared=source.partnership_id is None)
        if new_places.height:
            self.writer.run(repository.places_bulk(new_places).write)
        located = new["lon"].is_not_null()
        nowhere = pl.all_horizontal(pl.col(c).is_null() for c in LINK_COLUMNS)
        self.result.rows_without_location += int((~located).sum())
        self.result.rows_outside_areas += int(new.select(located & nowhere).to_series().sum())
        new = new.with_columns(
            pl.lit(source.id, dtype=pl.Int64).alias("source_id"),
            pl.lit(batch.id, dtype=pl.Int64).alias("batch_id"),
        )
        # made ready to write here (this thread waits for the writer otherwise)
        self.writer.run(repository.incidents_bulk(new).write)
        added = new.height
        for (month,), part in new.group_by("month"):
            held = self.stored[(source.id, month)]
            self.stored[(source.id, month)] = pl.concat([held, part["ident"]])
            self.months_with_rows.add((source.id, month))
        self.result.rows_new += added
        batch.rows_new += added
        self._count(source.id, new.group_by(*COUNT_KEYS).len("n"))

    def _count(self, source_id: int, counts: pl.DataFrame) -> None:
        """Keep a block's counts of new rows (columns ``COUNT_KEYS`` and ``n``), by month,
        for the count tables (written by :meth:`file_done` or :meth:`finish`). Memory stays
        bounded: when they pass ``COUNTS_HELD_ROWS`` they are summed (month by month, which
        keeps each sum small), and if that leaves more than half as many (a big file of many
        months), they are added to the count tables there and then."""
        held = self.increments.setdefault(source_id, {})
        for (month,), part in counts.group_by("month"):
            held.setdefault(month, []).append(part)
        self.increment_rows += counts.height
        self.counted = True
        if self.increment_rows <= COUNTS_HELD_ROWS:
            return
        self.increment_rows = 0
        for months in self.increments.values():
            for month, parts in months.items():
                months[month] = [_summed(parts)]
                self.increment_rows += months[month][0].height
        if self.increment_rows > COUNTS_HELD_ROWS // 2:
            self.drain()
            for held_source, months in self.increments.items():
                # these months now hold counts: later rows are added to them (finish)
                self.months_before.update((held_source, month) for month in months)
                if months:
                    _counts_store(held_source, months)
            self.increment_rows = 0

    def add_aggregates(
        self,
        frame: pl.DataFrame,
        source: Source,
        mapping: dict[str, object],
        level: str,
        unlisted: str,
    ) -> None:
        frame = self.categorise(frame, source.scheme, unlisted)
        if frame.height == 0:
            return
        areas = dict(
            Area.objects.filter(level=level).order_by("generation").values_list("code", "id")
        )
        batch = self.batch(source, mapping)
        frame = frame.filter(pl.col("count").is_not_null() | self._note_unavailable(frame))
        frame = frame.with_columns(
            pl.lit(source.id, dtype=pl.Int64).alias("source_id"),
            pl.lit(batch.id, dtype=pl.Int64).alias("batch_id"),
            pl.col("area_code").alias("area_code_given"),
            pl.col("area_code")
            .replace_strict(areas, default=None, return_dtype=pl.Int64)
            .alias("area_id"),
        )
        self.result.rows_outside_areas += int(frame["area_id"].is_null().sum())
        if self.allowed is not None:
            self.allowed.check_aggregates(frame)
        added = repository.aggregates_insert(frame)
        self._note_months(source, frame)
        self.result.rows_new += added
        batch.rows_new += added
        batch.rows_read += frame.height

    def _check_map_points(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Only police.uk's reader marks anonymised map points: a partner row said to be at
        one keeps that precision only if it is exactly at a map point a police.uk file put
        in the store; any other is stored as an exact location, which is never published."""
        claimed = frame["location_precision"] == LocationPrecision.SNAP_POINT
        if not claimed.any():
            return frame
        if self.map_points is None:
            self.drain()
            self.map_points = pl.DataFrame(
                list(
                    Place.objects.filter(
                        location_precision=LocationPrecision.SNAP_POINT,
                        incidents__source__format="police-uk",
                    )
                    .values_list("lon", "lat")
                    .distinct()
                ),
                schema={"lon": pl.Float64, "lat": pl.Float64},
                orient="row",
            ).with_columns(pl.lit(True).alias("_map_point"))
        checked = frame.join(self.map_points, on=["lon", "lat"], how="left", maintain_order="left")
        false_claim = claimed & checked["_map_point"].is_null()
        self.result.rows_not_map_points += int(false_claim.sum())
        return frame.with_columns(
            pl.when(false_claim)
            .then(pl.lit(LocationPrecision.EXACT.value))
            .otherwise(pl.col("location_precision"))
            .alias("location_precision")
        )

    def _note_unavailable(self, frame: pl.DataFrame) -> pl.Series:
        unavailable = frame["count"].is_null()
        self.result.rows_excluded += int(unavailable.sum())
        return pl.Series([False] * frame.height)

    def _note_months(self, source: Source, frame: pl.DataFrame) -> None:
        months = set(frame["month"].unique().to_list())
        self.touched.setdefault(source.id, set()).update(months)
        self.result.months.update(months)

    def finish(self, files: list[readers.FileInfo]) -> None:
        self.drain()
        if self.bulk_load:
            repository.bulk_load_end()
        if self.places is not None:
            repository.places_sequence_sync()
        for source_id in self.touched:
            source = Source.objects.get(pk=source_id)
            if source.kind == Source.Kind.AGGREGATE:
                aggregate_counts_rebuild(source)
            elif self.increments.get(source_id):
                _counts_store(source_id, self.increments.pop(source_id))
        if self.counted:
            repository.count_tables_analyze()
        for batch in self.batches.values():
            batch.files = [vars(f) for f in files]
            batch.rows_duplicate = batch.rows_read - batch.rows_new
            batch.months = sorted(
                m.strftime("%Y-%m") for m in self.touched.get(batch.source_id, ())
            )
            batch.save()
        self.result.sources = sorted(b.source.code for b in self.batches.values())
        self._apply_own_crosswalks()

    def _apply_own_crosswalks(self) -> None:
        """Rows were categorised with the crosswalk of the import's owner (the reference when
        the operator named none); a source whose organisation keeps its own version of the
        scheme (a force's own police.uk crosswalk) is re-mapped with that version."""
        done: set[tuple[str, int]] = set()
        for source in Source.objects.filter(pk__in=list(self.touched)).select_related(
            "organisation"
        ):
            key = (source.scheme, source.organisation_id)
            if key in done or source.organisation == self.crosswalk_organisation:
                continue
            done.add(key)
            if crosswalk_latest(source.scheme, source.organisation) is not None:
                self.result.rows_remapped += crosswalk_remap(source.scheme, source.organisation)


# What an import counts its new rows by, block by block (a place has one ward and one
# district, so these are the place's counts): enough for all three count tables.
COUNT_KEYS = ("place_id", "month", "category_id", "source_category", *repository.MONTHLY_LEVELS)
# Counts of new rows held before they are summed or written (_Importer._count): a 2M-row file
# of 60 months peaked at 649 MB with 100,000, 698 MB with 200,000 and 845 MB with 500,000.
COUNTS_HELD_ROWS = 100_000


def _summed(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """One frame of counts by ``COUNT_KEYS`` (each key once) from several."""
    if len(parts) == 1:
        return parts[0]  # a group-by's result already
    return pl.concat(parts).group_by(COUNT_KEYS).agg(pl.col("n").sum())


def _counts_store(source_id: int, months: dict[date, list[pl.DataFrame]]) -> None:
    """Add the counts of an import's new rows of one source (by month, see
    :meth:`_Importer._count`) to the monthly table and the SIA's two count tables. Each
    month is summed on its own. A place has one ward and one district, and a source
    category one category, in an import, so the counts by ``COUNT_KEYS`` are the counts
    per place, month, category and source category (:class:`PlaceMonthCount`) as they
    are."""
    monthly, places, areas = [], [], []
    for month in sorted(months):
        counts = _summed(months.pop(month))
        monthly.append(_monthly_increments(counts))
        places.append(counts.select("place_id", *repository.DETAIL_KEYS, "n"))
        areas.append(_subcategory_increments(counts))
    repository.monthly_counts_add(source_id, "incident", pl.concat(monthly))
    repository.place_counts_add(source_id, pl.concat(places))
    repository.subcategory_counts_add(source_id, pl.concat(areas))


def _subcategory_increments(counts: pl.DataFrame) -> pl.DataFrame:
    """Counts of newly stored incidents per ward and per district, month, category and
    source category, for :class:`AreaSubcategoryCount`, from counts by ``COUNT_KEYS``."""
    keys = list(repository.DETAIL_KEYS)
    return pl.concat(
        [
            counts.filter(pl.col(level).is_not_null())
            .group_by(level, *keys)
            .agg(pl.col("n").sum())
            .rename({level: "area_id"})
            for level in repository.MONTHLY_LEVELS
        ]
    )


def _monthly_increments(counts: pl.DataFrame) -> pl.DataFrame:
    """Counts of newly stored incidents per month and category for the whole source (area
    null), wards and districts, from counts by ``COUNT_KEYS`` (or any that include month,
    category, ward and district; column ``n``); added to the monthly table at the end.
    (LSOA breakdowns are counted from the incident rows: by LSOA the table would be nearly
    as big as they are.)"""
    keys = ["month", "category_id"]
    parts = [counts.group_by(keys).agg(pl.col("n").sum(), pl.lit(None, pl.Int64).alias("area_id"))]
    for level in repository.MONTHLY_LEVELS:
        located = counts.filter(pl.col(level).is_not_null())
        parts.append(
            located.group_by([*keys, level]).agg(pl.col("n").sum()).rename({level: "area_id"})
        )
    return pl.concat(
        [
            p.select(
                "area_id",
                *keys,
                pl.lit(1, dtype=pl.Int64).alias("period_months"),
                pl.col("n").cast(pl.Int64),
            )
            for p in parts
        ]
    )


def _run(
    result: ImportResult,
    work: Callable[[_Importer], list[readers.FileInfo]],
    by_user: str,
    owner: Owner,
) -> ImportResult:
    reference_data_ensure()
    try:
        with transaction.atomic():
            importer = _Importer(result, by_user, owner)
            try:
                result.files = work(importer)
                importer.finish(result.files)
            finally:
                importer.close()  # before the transaction ends, either way
            if result.dry_run:
                transaction.set_rollback(True)
    except (readers.RowError, readers.MappingError) as exc:
        raise ImportRejected(f"{exc}. Nothing was imported.") from exc
    return result


class _Writer:
    """Runs an import's bulk writes, in order, in a thread of their own.

    The writes (the ADBC staging and ``INSERT ... SELECT`` on SQLite, ``COPY`` on
    PostgreSQL, where the server does the work) hold no GIL, so while one block is written
    the importing thread prepares the next and the read-ahead thread reads the one after.
    Jobs use the driver's connection of the importing thread's transaction; that thread
    calls :meth:`drain` before it uses the connection itself. The first error stops the
    writer and is raised in the importing thread, which rolls the import back.
    """

    def __init__(self, raw: object, depth: int = 2) -> None:
        self._raw = raw
        self._jobs: queue.Queue[Callable[[object], object] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None:
                    job(self._raw)
            except BaseException as exc:  # handed to the importing thread, never lost
                self._error = exc
            finally:
                self._jobs.task_done()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def run(self, job: Callable[[object], object]) -> None:
        """Queue ``job(raw_connection)``; waits while ``depth`` jobs are queued."""
        self._raise()
        self._jobs.put(job)

    def drain(self) -> None:
        """Wait for every queued write; raise the writer's error if there was one."""
        self._jobs.join()
        self._raise()

    def close(self) -> None:
        """Stop after the write in progress (on success, :meth:`drain` came first)."""
        if self._thread.is_alive():
            self._error = self._error or _Stopped()
            self._jobs.put(None)
            self._thread.join()


class _Stopped(Exception):
    """The writer was closed before its queue was empty (the import is being rolled back)."""


class _ReadAhead:
    """Read and prepare the next blocks in a thread while this one is stored.

    The thread parses, validates and categorises each block (polars, which releases the GIL
    for most of it), while the importing thread places the block before and the writer
    thread writes (see :class:`_Writer`). At most ``depth`` blocks
    wait in memory, which keeps memory bounded. An error in the reader (a bad row) is
    raised here, in the importing thread, inside its transaction.
    """

    def __init__(
        self, files: Sequence[Path], read: Callable[[Path], Iterator[_Block]], depth: int = 1
    ) -> None:
        self._queue: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(files, read), daemon=True)
        self._thread.start()

    def _produce(self, files: Sequence[Path], read: Callable[[Path], Iterator[_Block]]) -> None:
        try:
            for path in files:
                for frame in read(path):
                    if self._stop.is_set():
                        return
                    self._queue.put(("frame", frame))
                self._queue.put(("end", path))
        except BaseException as exc:  # handed to the importing thread, never lost
            self._queue.put(("error", exc))

    def blocks_of_next_file(self) -> Iterator[_Block]:
        """The blocks of the next file, in order (files are read in the order given)."""
        while True:
            kind, item = self._queue.get()
            if kind == "error":
                raise item  # type: ignore[misc]
            if kind == "end":
                return
            yield item  # type: ignore[misc]

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)


def police_uk_import(
    paths: Sequence[Path],
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    by_user: str = "",
    block_bytes: int = readers.DEFAULT_BLOCK_BYTES,
    owner: Owner = OPERATOR,
) -> ImportResult:
    """Import data.police.uk street-level files; one source per force ("Falls within").

    The force's source is shared with every partnership the force belongs to, and owned by
    the force (or the operator's ``owner.organisation``). Through a partnership's upload
    page only a member of the force may add to it, and only rows in that partnership's
    districts. Files are read ``block_bytes`` at a time (memory does not grow with them),
    and all of them are read and checked before the transaction starts
    (:func:`parse_first`)."""
    files = readers.police_uk_files(paths)
    _check_files(files)
    limits = import_limits()

    def work(importer: _Importer) -> list[readers.FileInfo]:
        infos = []
        sources: dict[str, Source] = {}
        importer.crosswalk("police-uk")

        def read(path: Path) -> Iterator[_Block]:
            for frame in parsed.frames(path):
                yield importer.prepare(frame, "police-uk", "keep")

        ahead = _ReadAhead(files, read)
        try:
            importer.start_incidents(parsed.months)
            for path in progress(files) if progress else files:
                infos.append(_police_file(importer, ahead, path, sources))
                importer.file_done(sources)
        finally:
            ahead.close()
        return infos

    def parse(path: Path) -> Iterator[pl.DataFrame]:
        # BNG is worked out per new place (PlaceIndex), not per row
        return readers.read_police_uk(path, block_bytes=block_bytes, bng=False, limits=limits)

    with parse_first(files, parse) as parsed:
        return _run(ImportResult(dry_run), work, by_user, owner)


def _police_file(
    importer: _Importer, ahead: _ReadAhead, path: Path, sources: dict[str, Source]
) -> readers.FileInfo:
    """Import one police.uk file's blocks; one source per force ("Falls within")."""
    rows = 0
    for block in ahead.blocks_of_next_file():
        read = sum(block.read.values())
        rows += read
        importer.result.rows_read += read
        parts = dict(iter(block.frame.group_by("organisation", maintain_order=True)))
        for force, read_of_force in block.read.items():
            assert force is not None, "the reader refuses rows without 'Falls within'"
            if force not in sources:
                importer.drain()
                sources[force] = _source_for(
                    code=f"police-uk-{slugify(force)}",
                    name=f"{force} street-level crime",
                    organisation=str(force),
                    organisation_kind="police",
                    kind=Source.Kind.INCIDENTS,
                    scheme="police-uk",
                    fmt="police-uk",
                    owner=importer.owner,
                    where=f"{path.name}: 'Falls within'",
                )
            part = parts.get((force,), block.frame.clear())
            importer.add_incidents(part, read_of_force, sources[force], None)
    return readers.file_info(path, rows)


def mapping_load(path: Path) -> readers.Mapping:
    """A mapping file, checked (plain YAML: no anchors or aliases; see limits.mapping_read)."""
    data = mapping_read(path)
    try:
        return readers.Mapping.from_dict(data, str(path))
    except readers.MappingError as exc:
        raise ImportRejected(str(exc)) from exc


def mapped_import(
    paths: Sequence[Path],
    *,
    mapping: readers.Mapping,
    dry_run: bool = False,
    progress: Progress | None = None,
    by_user: str = "",
    owner: Owner = OPERATOR,
) -> ImportResult:
    """Import partner CSV/XLSX files described by a mapping (incidents or aggregate counts).

    The source belongs to ``owner.organisation`` (an uploader's own, which the mapping must
    name) or the mapping's organisation; the mapping's categories become that
    organisation's crosswalk for the scheme and re-map that organisation's sources only.
    All files are read and checked before the transaction starts (:func:`parse_first`)."""
    files = readers.mapped_files(paths)
    _check_files(files)
    limits = import_limits()

    def work(importer: _Importer) -> list[readers.FileInfo]:
        source = _source_for(
            code=mapping.source_code,
            name=mapping.source_name,
            organisation=mapping.organisation,
            organisation_kind=mapping.organisation_kind,
            kind=mapping.kind,
            scheme=mapping.scheme,
            fmt="mapped",
            owner=importer.owner,
            where=f"{Path(mapping.file).name}: the mapping's source.organisation",
        )
        org = source.organisation
        before = crosswalk_in_force(mapping.scheme, org)
        saved = crosswalk_save(
            mapping.scheme,
            mapping.categories,
            mapping.exclude,
            note=f"from {Path(mapping.file).name}",
            where=mapping.file,
            organisation=org,
            by_user=importer.by_user,
        )
        if before is not None and saved.pk != before.pk:
            importer.result.rows_remapped = crosswalk_remap(mapping.scheme, org)
        importer.crosswalk_organisation = org
        importer.crosswalks.pop(mapping.scheme, None)
        infos = []
        aggregate = mapping.kind == "aggregate"
        importer.crosswalk(mapping.scheme)

        def read(path: Path) -> Iterator[_Block]:
            for frame in parsed.frames(path):
                if aggregate:
                    yield _Block(frame, {None: frame.height})
                else:
                    yield importer.prepare(frame, mapping.scheme, mapping.unlisted)

        ahead = _ReadAhead(files, read)
        try:
            if not aggregate:
                importer.start_incidents(parsed.months)
            for path in progress(files) if progress else files:
                rows = 0
                for block in ahead.blocks_of_next_file():
                    read_rows = sum(block.read.values())
                    rows += read_rows
                    importer.result.rows_read += read_rows
                    if aggregate:
                        importer.add_aggregates(
                            block.frame,
                            source,
                            mapping.raw,
                            str(mapping.area_level),
                            mapping.unlisted,
                        )
                    else:
                        importer.add_incidents(block.frame, read_rows, source, mapping.raw)
                infos.append(readers.file_info(path, rows))
                if not aggregate:
                    importer.file_done({mapping.organisation: source})
        finally:
            ahead.close()
        return infos

    with parse_first(files, lambda p: readers.read_mapped(p, mapping, limits=limits)) as parsed:
        return _run(ImportResult(dry_run), work, by_user, owner)


def _check_files(files: Sequence[Path]) -> None:
    if not files:
        raise ImportRejected("no files to import (check the path)")
    for path in files:
        if not path.is_file():
            raise ImportRejected(f"{path}: no such file")


def aggregate_counts_rebuild(source: Source) -> None:
    """Monthly counts of an aggregate source at its own areas and the areas above them.

    LSOA returns are summed up to the ward and district holding each LSOA's representative
    point (best fit); district returns count for the district only.
    """
    rows = pl.DataFrame(
        list(
            AggregateRecord.objects.filter(source=source).values_list(
                "area_id", "month", "period_months", "category_id", "count"
            )
        ),
        schema={
            "area_id": pl.Int64,
            "month": pl.Date,
            "period_months": pl.Int64,
            "category_id": pl.Int64,
            "count": pl.Float64,
        },
        orient="row",
    )
    index = AreaIndex.load()
    fit = pl.DataFrame(
        [(k, w, d) for k, (w, d) in index.lsoa_fit.items()],
        schema={"area_id": pl.Int64, "ward_id": pl.Int64, "district_id": pl.Int64},
        orient="row",
    )
    rows = rows.join(fit, on="area_id", how="left")
    keys = ["month", "period_months", "category_id"]
    parts = [
        rows.group_by(keys).agg(
            pl.lit(None, dtype=pl.Int64).alias("area_id"), pl.col("count").sum().alias("n")
        )
    ]
    for column in ("area_id", "ward_id", "district_id"):
        located = rows.filter(pl.col(column).is_not_null())
        parts.append(
            located.group_by([*keys, column])
            .agg(pl.col("count").sum().alias("n"))
            .rename({column: "area_id"})
        )
    table = pl.concat([p.select("area_id", *keys, "n") for p in parts])
    repository.aggregate_counts_replace(source.id, table)


def crosswalk_remap(scheme: str, organisation: Organisation | None = None) -> int:
    """Give the stored records of ``organisation``'s sources under ``scheme`` (every
    organisation's, when None) the categories of the crosswalk in force for their
    organisation, and recount their monthly counts; returns the rows changed.

    A value the crosswalk no longer maps (or now excludes) is left without a category: the
    rows are kept, never deleted, and ``csp quality`` lists them as unknown.
    """
    changed = 0
    sources = Source.objects.filter(scheme=scheme).select_related("organisation")
    if organisation is not None:
        sources = sources.filter(organisation=organisation)
    for source in sources:
        mapped, _ = crosswalk_as_dict(crosswalk_in_force(scheme, source.organisation))
        aggregate = source.kind == Source.Kind.AGGREGATE
        rows = (AggregateRecord if aggregate else Incident).objects.filter(source=source)
        n = (
            rows.exclude(source_category__in=list(mapped))
            .exclude(category=None)
            .update(category=None)
        )
        for value, category_id in mapped.items():
            if category_id is None:  # (mapped values always have a category)
                continue
            n += (
                rows.filter(source_category=value)
                .exclude(category_id=category_id)
                .update(category_id=category_id)
            )
        if n and aggregate:
            aggregate_counts_rebuild(source)
        elif n:
            months = sorted(set(rows.values_list("month", flat=True).distinct()))
            repository.monthly_counts_rebuild(source.id, months)
            repository.place_counts_rebuild(source.id, months)
        changed += n
    return changed


@transaction.atomic
def crosswalk_revert(
    *,
    scheme: str,
    organisation: Organisation | None,
    to_version: int,
    from_reference: bool = False,
    by_user: str = "",
) -> tuple[Crosswalk, int]:
    """Put back an earlier version of an organisation's crosswalk (``from_reference``: a
    version of the shipped reference): a new version with its entries, recording who and
    the version it replaces, then re-map that organisation's sources. Returns the new
    version (or the one in force, if it already said the same) and the rows re-mapped."""
    source_org = None if from_reference else organisation
    target = Crosswalk.objects.filter(
        scheme=scheme, organisation=source_org, version=to_version
    ).first()
    if target is None:
        owner = "the reference" if source_org is None else source_org.name
        raise BadQuery(f"no version {to_version} of {owner}'s {scheme!r} crosswalk")
    mapped, excluded = crosswalk_as_dict(target)
    before = crosswalk_in_force(scheme, organisation)
    saved = crosswalk_store(
        scheme,
        mapped,
        excluded,
        organisation=organisation,
        note=f"revert to {target}",
        by_user=by_user,
    )
    remapped = crosswalk_remap(scheme, organisation) if before != saved else 0
    return saved, remapped


def incidents_relink_areas(progress: Progress | None = None) -> int:
    """Re-run point-in-polygon for every place (after new areas are imported), copy the
    links to the incidents at each place, and rebuild every monthly count. Runs inside the
    caller's transaction. Returns the number of places tested."""
    index = AreaIndex.load()
    frame = pl.DataFrame(
        list(Place.objects.order_by("id").values_list("id", "lon", "lat", "lsoa_given")),
        schema={"id": pl.Int64, "lon": pl.Float64, "lat": pl.Float64, "lsoa_given": pl.String},
        orient="row",
    )
    assigned = index.assign(
        frame["lon"].fill_null(np.nan).to_numpy(), frame["lat"].fill_null(np.nan).to_numpy()
    )
    index.fill_from_lsoa_codes(
        assigned, frame["lsoa_given"].to_list(), frame["lon"].is_not_null().to_numpy()
    )
    repository.place_areas_update(
        frame.select("id").with_columns(
            [pl.Series(f"{lvl}_id", assigned[lvl]).replace(-1, None) for lvl in assigned]
        )
    )
    for source in Source.objects.all():
        if source.kind == Source.Kind.AGGREGATE:
            aggregate_counts_rebuild(source)
        else:
            months = list(
                Incident.objects.filter(source=source).values_list("month", flat=True).distinct()
            )
            repository.monthly_counts_rebuild(source.id, sorted(months))
    return frame.height


def database_vendor() -> str:
    return connection.vendor
