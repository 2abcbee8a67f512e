"""The incident store: one canonical record for every partner's incidents.

The fields follow the Crime and Disorder (Prescribed Information) Regulations 2007 (s.17A):
depersonalised, with source agency, category, date with its precision and location. Partners'
aggregate returns (counts, not incidents) live in :class:`AggregateRecord`, never mixed with
incidents. See docs/data-model.md.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from csp_platform.areas.models import Area
from csp_platform.core.models import Organisation, Partnership


class Theme(models.Model):
    """A top-level theme of the partnership's plan: ASB, acquisitive crime, deliberate fires."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    """A canonical incident category, the same for every source."""

    code = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=160)
    theme = models.ForeignKey(Theme, on_delete=models.PROTECT, related_name="categories")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["theme__order", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Crosswalk(models.Model):
    """One version of the mapping from a source scheme's categories to canonical ones.

    A scheme is a family of source categories (``police-uk``, ``lfb-stop-code``,
    ``fixmystreet-shef-a``). Each organisation keeps its own versions of a scheme and they
    apply to that organisation's sources only; ``organisation`` null is the shipped reference
    crosswalk (police.uk), used by every source of the scheme whose organisation has no
    version of its own. Versions are never edited in place: importing with a changed mapping
    (or reverting) creates a new version, recording who made it, when and the version it
    replaced, and re-maps the stored records of that organisation's sources of the scheme
    (``services.crosswalk_remap``).
    """

    scheme = models.CharField(max_length=80)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="crosswalks"
    )
    version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)
    replaces = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The version that was in force before this one (the 'before').",
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["scheme", "organisation", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "scheme", "version"],
                condition=models.Q(organisation__isnull=False),
                name="crosswalk_unique_version_per_organisation",
            ),
            models.UniqueConstraint(
                fields=["scheme", "version"],
                condition=models.Q(organisation__isnull=True),
                name="crosswalk_unique_reference_version",
            ),
        ]

    def __str__(self) -> str:
        owner = self.organisation.slug if self.organisation is not None else "reference"
        return f"{self.scheme} ({owner}) v{self.version}"


class CrosswalkEntry(models.Model):
    """Source value -> canonical category (or an explicit exclusion) within one version."""

    crosswalk = models.ForeignKey(Crosswalk, on_delete=models.CASCADE, related_name="entries")
    source_value = models.TextField()
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT)
    excluded = models.BooleanField(
        default=False, help_text="Out of the partnership's scope (e.g. automatic fire alarms)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["crosswalk", "source_value"], name="crosswalk_entry_unique_value"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_value} -> {self.category or 'excluded'}"


class Source(models.Model):
    """A stream of records from one organisation: "Cleveland Police street-level crime".

    ``partnership`` set: the source was created through that partnership's upload page and
    only that partnership sees it. Null: a shared source (imported by the operator), seen by
    every partnership its organisation belongs to (the force's police.uk source).
    """

    class Kind(models.TextChoices):
        INCIDENTS = "incidents", "Incident-level records"
        AGGREGATE = "aggregate", "Aggregate counts"

    code = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="sources")
    partnership = models.ForeignKey(
        Partnership, null=True, blank=True, on_delete=models.PROTECT, related_name="sources"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    scheme = models.CharField(max_length=80, help_text="Category scheme for the crosswalk.")
    format = models.CharField(max_length=40)
    identity_rule = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportBatch(models.Model):
    """One committed import: which files, what they held, what was new, and whose it is.

    ``organisation`` is the organisation the import was made for (the uploader's, or the
    operator's ``--organisation``); ``partnership`` the partnership whose upload page it came
    through (null: the operator's ``csp import-incidents``).
    """

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="batches")
    organisation = models.ForeignKey(
        Organisation, null=True, on_delete=models.PROTECT, related_name="import_batches"
    )
    partnership = models.ForeignKey(
        Partnership, null=True, blank=True, on_delete=models.PROTECT, related_name="import_batches"
    )
    crosswalk = models.ForeignKey(Crosswalk, null=True, on_delete=models.PROTECT)
    started_at = models.DateTimeField(auto_now_add=True)
    files = models.JSONField(default=list, help_text="[{path, sha256, rows}]")
    rows_read = models.PositiveIntegerField(default=0)
    rows_new = models.PositiveIntegerField(default=0)
    rows_duplicate = models.PositiveIntegerField(default=0)
    rows_excluded = models.PositiveIntegerField(default=0)
    months = models.JSONField(default=list)
    mapping = models.JSONField(null=True, blank=True)
    by_user = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"{self.source} {self.started_at:%Y-%m-%d %H:%M} ({self.rows_new} new)"


def _bulk_key(
    to: type[models.Model],
    on_delete: Any,
    *,
    null: bool = False,
    related_name: str | None = "+",
) -> Any:
    """A key of a table written in bulk by the import, which builds every id from the
    database in the same transaction: not checked row by row by the database, and not
    indexed on its own (the composite indexes the reads need are declared in Meta)."""
    return models.ForeignKey(
        to,
        null=null,
        blank=null,
        on_delete=on_delete,
        related_name=related_name,
        db_index=False,
        db_constraint=False,
    )


def _area_link() -> models.ForeignKey[Area | None, Area | None]:
    """A link to the area a place falls in (set by the import, not enforced)."""
    return _bulk_key(Area, models.SET_NULL, null=True)  # type: ignore[no-any-return]


class DatePrecision(models.TextChoices):
    MONTH = "month", "Month"
    DAY = "day", "Day"
    MINUTE = "minute", "Date and time"


class LocationPrecision(models.TextChoices):
    NONE = "none", "No location"
    SNAP_POINT = "snap", "Anonymised map point (police.uk)"
    EXACT = "exact", "As recorded"
    ROUNDED = "rounded", "Rounded grid reference"


class RowIdField(models.BigAutoField):  # type: ignore[type-arg]
    """A big-integer primary key that SQLite keeps as its plain rowid.

    Django adds ``AUTOINCREMENT`` on SQLite, which updates the ``sqlite_sequence`` table on
    every insert (about 8% of a bulk import's time). Without it SQLite gives each new row the
    largest id plus one; an id is reused only if the newest row is deleted. Incidents are
    referred to by (source, ident), never by id, outside one query.
    """

    def db_type_suffix(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "sqlite":
            return None
        return super().db_type_suffix(connection)


class IdentField(models.TextField):  # type: ignore[type-arg]
    """An identity (``YYYYMM`` and a digest): compared byte by byte on PostgreSQL.

    PostgreSQL's default collation compares text through the C library's locale rules; the
    "C" collation compares bytes, which sorts the same ASCII identities in the same order and
    builds the unique index about a quarter faster. SQLite compares bytes already.
    """

    def db_parameters(self, connection: BaseDatabaseWrapper) -> dict[str, Any]:
        params: dict[str, Any] = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params


class Place(models.Model):
    """A distinct place that incidents are recorded at, with the areas it falls in.

    police.uk publishes anonymised map points ("snap points"), each with its street text, so
    the 401,207 Northumbria crimes of two years sit at 17,808 places. The place holds the
    location fields of the s.17A record once, and the point-in-polygon result is worked out
    once per place, not per incident (docs/decisions/0005-places.md). A place without
    coordinates (``location_precision`` ``none``) may still give an LSOA code.

    ``key`` is a digest of the location fields; two incidents with the same fields share a
    place, whatever their source.
    """

    key = models.CharField(max_length=32, unique=True)
    location_precision = models.CharField(max_length=8, choices=LocationPrecision.choices)
    lon = models.FloatField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    easting = models.FloatField(null=True, blank=True)
    northing = models.FloatField(null=True, blank=True)
    location_text = models.TextField(blank=True)
    lsoa_given = models.TextField(blank=True)
    lsoa = _area_link()
    ward = _area_link()
    district = _area_link()

    def __str__(self) -> str:
        return self.location_text or self.lsoa_given or "(no location)"


class Incident(models.Model):
    """One incident from one source, depersonalised (s.17A).

    ``ident`` is the source-specific identity used to keep re-imports idempotent
    (docs/data-model.md#identity). The location is the incident's :class:`Place`; ``ward``
    and ``district`` repeat the place's links (the newest boundary generation of each level)
    so that the indexes reads use sit on this table. Every area, of every generation, is
    counted in :class:`AreaMonthCount`.
    """

    # A bulk fact table: foreign keys are kept by the import service (which builds every id
    # from the database in the same transaction), not checked row by row by the database,
    # and only the indexes the reads need exist (docs/decisions/0004-lean-incident-table.md).
    id = RowIdField(primary_key=True)
    source = _bulk_key(Source, models.PROTECT, related_name="incidents")
    batch = _bulk_key(ImportBatch, models.PROTECT, related_name="incidents")
    ident = IdentField()
    source_ref = models.TextField(blank=True)
    source_category = models.TextField()
    category = _bulk_key(Category, models.PROTECT, null=True, related_name=None)
    month = models.DateField(help_text="First day of the month of the incident (Europe/London).")
    occurred_on = models.DateField(null=True, blank=True)
    occurred_at = models.TimeField(null=True, blank=True)
    date_precision = models.CharField(
        max_length=8,
        choices=DatePrecision.choices,
        default=DatePrecision.MONTH,
        db_default=DatePrecision.MONTH,
    )
    place = _bulk_key(Place, models.PROTECT, related_name="incidents")
    outcome = models.TextField(blank=True)
    ward = _area_link()
    district = _area_link()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "ident"], name="incident_unique_per_source")
        ]
        indexes = [
            # (source, month) lookups use the unique index: identities lead with YYYYMM.
            models.Index(fields=["ward", "month"]),
            models.Index(fields=["district", "month"]),
        ]

    def __str__(self) -> str:
        return f"{self.source_category} {self.month:%Y-%m} ({self.source.code})"


# The record's location fields live on its place: field name -> lookup from Incident.
LOCATION_LOOKUPS = {
    name: f"place__{name}"
    for name in (
        "location_precision", "lon", "lat", "easting", "northing", "location_text", "lsoa_given",
        "lsoa", "lsoa_id",
    )
}  # fmt: skip


def incident_lookup(name: str) -> str:
    """The ORM lookup, from :class:`Incident`, of a field of the s.17A record:
    ``lon`` is ``place__lon``, ``ward_id`` stays ``ward_id``."""
    return LOCATION_LOOKUPS.get(name, name)


class AggregateRecord(models.Model):
    """A count from a partner's aggregate return (e.g. FixMyStreet reports per LSOA and month).

    Kept apart from :class:`Incident` so that a count of 7 is never read as one incident.
    ``period_months`` is 1 for monthly returns and 12 for annual ones (DEFRA fly-tipping).
    """

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="aggregates")
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="aggregates")
    ident = models.TextField()
    month = models.DateField(help_text="First month of the period counted.")
    period_months = models.PositiveSmallIntegerField(default=1)
    area_code_given = models.TextField()
    area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_category = models.TextField()
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT)
    count = models.FloatField(help_text="Some official returns hold estimates with decimals.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "ident"], name="aggregate_unique_per_source")
        ]
        indexes = [models.Index(fields=["source", "month"])]


class AreaMonthCount(models.Model):
    """Monthly counts per area x category x source, kept by the import in its transaction.

    ``area`` null is the whole source (every record, located or not). ``kind`` keeps incident
    counts and aggregate-return counts apart. Rebuilt for the (source, month) pairs an import
    touches, so it always equals a count of the underlying rows.
    """

    class Kind(models.TextChoices):
        INCIDENT = "incident", "Incidents"
        AGGREGATE = "aggregate", "Aggregate return"

    # Derived data, written in bulk by the import that also writes the rows it counts: the
    # keys are not checked by the database (a commit-time check of every count cost half a
    # second per 40,000 counts), and the two composite indexes serve every read.
    area = _bulk_key(Area, models.CASCADE, null=True)
    month = models.DateField()
    period_months = models.PositiveSmallIntegerField(default=1)
    source = _bulk_key(Source, models.CASCADE)
    category = _bulk_key(Category, models.CASCADE, null=True, related_name=None)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    n = models.FloatField()

    class Meta:
        indexes = [
            models.Index(fields=["area", "month"]),
            models.Index(fields=["source", "month"]),
        ]


class SubcategoryMonthCount(models.Model):
    """An abstract base for the SIA's count tables: incidents per month x source x category
    x the source's own category, and per the place or area each table adds."""

    month = models.DateField()
    source = _bulk_key(Source, models.CASCADE)
    category = _bulk_key(Category, models.CASCADE, null=True, related_name=None)
    source_category = models.TextField()
    n = models.PositiveIntegerField()

    class Meta:
        abstract = True


class PlaceMonthCount(SubcategoryMonthCount):
    """Incidents per place x month x source x category x the source's own category, kept by
    the import in its transaction beside :class:`AreaMonthCount` (issue 8 item 9).

    The SIA's top repeat locations and sub-category breakdown read it instead of the
    incident rows: police.uk puts a million incidents on a few thousand snap points, so a
    year of a district is a hundred thousand counts, not half a million rows. Areas come from
    the place's links, so relinking places needs no recount. An import adds its new rows'
    counts (from its blocks in memory); a crosswalk re-map recounts the (source, month)
    pairs it touches from the incident rows.
    """

    place = _bulk_key(Place, models.CASCADE)

    class Meta:
        indexes = [
            models.Index(fields=["place", "month"]),
            models.Index(fields=["source", "month"]),
        ]


class AreaSubcategoryCount(SubcategoryMonthCount):
    """Incidents per ward or district (newest generation) x month x source x category x the
    source's own category: the SIA's sub-category breakdown for those areas (issue 8 item
    9). Kept like :class:`AreaMonthCount`: an import adds its new rows' counts; a crosswalk
    re-map or a relink of places recounts the (source, month) pairs it touches from the
    incident rows, in its transaction."""

    area = _bulk_key(Area, models.CASCADE)

    class Meta:
        indexes = [
            models.Index(fields=["area", "month"]),
            models.Index(fields=["source", "month"]),
        ]
