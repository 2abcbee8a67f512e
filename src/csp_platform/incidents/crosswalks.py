"""The category crosswalk as a CSV an analyst can read and change (``csp crosswalk``).

A source's crosswalk is the version in force for its category scheme (``Source.scheme``) and
its owning organisation (the organisation's own newest version, else the shipped reference;
docs/importing.md, "Ownership"): which source value (a police.uk crime type, an LFB stop
code) counts as which canonical category, and which are out of scope. Exporting writes one
row per value of that version, and one per value found in the stored records that the
version does not map, with how many stored records carry it. Importing an edited file makes
a new version through the same :func:`~csp_platform.incidents.reference.crosswalk_save` that
mapping files use, and re-maps the stored records of that organisation's sources as a
changed mapping does (:func:`services.crosswalk_remap`; other organisations' sources are
untouched): all or nothing, in one transaction, a dry run rolled back. The file is the whole
new version: a value left out, or left without a category, is unmapped from then on (its
records are kept, counted as unknown by ``csp quality``).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Sum

from csp_platform.core.errors import ImportRejected
from csp_platform.incidents.models import (
    AggregateRecord,
    Category,
    Crosswalk,
    ImportBatch,
    Incident,
    Source,
)
from csp_platform.incidents.reference import (
    crosswalk_as_dict,
    crosswalk_in_force,
    crosswalk_save,
    reference_data_ensure,
)
from csp_platform.incidents.services import crosswalk_remap

COLUMNS = ["source_value", "category", "excluded", "category_name", "theme", "stored_rows"]
REQUIRED = ("source_value", "category", "excluded")
YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0", ""}
MAX_ERRORS = 20


@dataclass(frozen=True)
class CrosswalkVersion:
    """One version of a scheme's crosswalk, for ``csp crosswalk list``."""

    scheme: str
    owner: str  # the organisation that keeps the version, or "reference" (shipped)
    version: int
    latest: bool
    created_at: datetime
    mapped: int
    excluded: int
    sources: tuple[str, ...]
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "owner": self.owner,
            "version": self.version,
            "latest": "yes" if self.latest else "",
            "created": self.created_at.strftime("%Y-%m-%d %H:%M"),
            "mapped": self.mapped,
            "excluded": self.excluded,
            "sources": " ".join(self.sources),
            "note": self.note,
        }


@dataclass
class CrosswalkImportResult:
    """What importing a crosswalk file did (or, in a dry run, would do)."""

    dry_run: bool
    file: str
    source: str
    scheme: str
    owner: str  # whose crosswalk: the source's organisation
    before: str | None  # the version in force before, e.g. "reference version 1"
    before_pk: int | None
    after: int  # the organisation's version in force after (the same when nothing changed)
    after_pk: int
    mapped: int = 0
    excluded: int = 0
    rows_remapped: int = 0
    changed_values: list[str] = field(default_factory=list)
    excluded_before_now_mapped: list[str] = field(default_factory=list)
    from_mapping_file: bool = False

    @property
    def changed(self) -> bool:
        return self.after_pk != self.before_pk

    def summary(self) -> str:
        prefix = "dry run (nothing written): " if self.dry_run else ""
        if not self.changed:
            return f"{prefix}{self.file}: the same as {self.scheme} {self.before}; nothing changed"
        verb = "would make" if self.dry_run else "made"
        values = ", ".join(self.changed_values[:10]) + (
            f" and {len(self.changed_values) - 10} more" if len(self.changed_values) > 10 else ""
        )
        lines = [
            f"{prefix}{self.file}: {verb} {self.owner}'s {self.scheme} version {self.after} "
            f"(replacing {self.before or 'none'}; {self.mapped} values mapped, "
            f"{self.excluded} excluded); changed: {values}; "
            f"{'would re-map' if self.dry_run else 're-mapped'} {self.rows_remapped} stored "
            f"records of {self.owner}'s sources of the scheme"
        ]
        if self.excluded_before_now_mapped:
            lines.append(
                "note: records of "
                + ", ".join(self.excluded_before_now_mapped)
                + " were excluded when imported and never stored: import those files again "
                "to add them"
            )
        if self.from_mapping_file:
            lines.append(
                f"note: {self.source} is imported with a mapping file; change the categories "
                "and exclude lists in it too, or its next import makes a new version that "
                "undoes this one"
            )
        return "\n".join(lines)


def _source(code: str) -> Source:
    try:
        return Source.objects.get(code=code)
    except Source.DoesNotExist:
        known = ", ".join(Source.objects.order_by("code").values_list("code", flat=True))
        raise ImportRejected(
            f"no source called {code!r} (sources: {known or 'none loaded yet'})"
        ) from None


def _owner(organisation_name: str | None) -> str:
    return organisation_name or "reference"


def crosswalk_versions(source_code: str | None = None) -> list[CrosswalkVersion]:
    """Every version of every scheme's crosswalk (only the source's scheme if one is
    named), by owner (an organisation, or the shipped reference), newest first; each with
    the sources it categorises (an organisation's version: its own sources of the scheme;
    the reference: the sources of organisations without a version of their own)."""
    reference_data_ensure()
    crosswalks = Crosswalk.objects.order_by(
        "scheme", F("organisation__name").asc(nulls_last=True), "-version"
    )
    if source_code:
        crosswalks = crosswalks.filter(scheme=_source(source_code).scheme)
    own = set(
        Crosswalk.objects.filter(organisation__isnull=False).values_list(
            "scheme", "organisation__name"
        )
    )
    users: dict[tuple[str, str], list[str]] = {}
    for code, scheme, org in Source.objects.order_by("code").values_list(
        "code", "scheme", "organisation__name"
    ):
        owner = org if (scheme, org) in own else None
        users.setdefault((scheme, _owner(owner)), []).append(code)
    latest: dict[tuple[str, str], int] = {}
    counted = crosswalks.values_list(
        "pk", "scheme", "organisation__name", "version", "created_at", "note"
    )
    excluded = Counter(
        Crosswalk.objects.filter(entries__excluded=True).values_list("pk", flat=True)
    )
    totals = Counter(Crosswalk.objects.filter(entries__isnull=False).values_list("pk", flat=True))
    out = []
    for pk, scheme, org, version, created_at, note in counted:
        key = (scheme, _owner(org))
        latest.setdefault(key, version)
        out.append(
            CrosswalkVersion(
                scheme=scheme,
                owner=key[1],
                version=version,
                latest=latest[key] == version,
                created_at=created_at,
                mapped=totals[pk] - excluded[pk],
                excluded=excluded[pk],
                sources=tuple(users.get(key, ())),
                note=note,
            )
        )
    return out


def crosswalk_categories() -> list[dict[str, str]]:
    """The canonical categories a crosswalk may name: code, name and theme."""
    reference_data_ensure()
    return [
        {"code": code, "name": name, "theme": theme}
        for code, name, theme in Category.objects.order_by("theme__order", "code").values_list(
            "code", "name", "theme__code"
        )
    ]


def _stored_rows(source: Source) -> Counter[str]:
    """Records stored per source value, over the sources of the scheme that the source's
    organisation owns (the ones its crosswalk categorises)."""
    counts: Counter[str] = Counter()
    owned = {"source__scheme": source.scheme, "source__organisation": source.organisation}
    for value, n in (
        Incident.objects.filter(**owned)
        .values_list("source_category")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts[value] += n
    for value, n in (
        AggregateRecord.objects.filter(**owned)
        .values_list("source_category")
        .annotate(n=Sum("count"))
        .order_by()
    ):
        counts[value] += int(n or 0)
    return counts


def crosswalk_export(source_code: str) -> list[dict[str, Any]]:
    """The rows of the CSV for the source's current crosswalk (columns :data:`COLUMNS`):
    every value of the latest version, then every stored value it does not map."""
    reference_data_ensure()
    source = _source(source_code)
    latest = crosswalk_in_force(source.scheme, source.organisation)
    categories = {
        pk: (code, name, theme)
        for pk, code, name, theme in Category.objects.values_list(
            "pk", "code", "name", "theme__code"
        )
    }
    stored = _stored_rows(source)
    rows = []
    entries = (
        latest.entries.order_by("excluded", "source_value").values_list(
            "source_value", "category_id", "excluded"
        )
        if latest
        else []
    )
    listed = set()
    for value, category_id, excluded in entries:
        code, name, theme = categories[category_id] if category_id else ("", "", "")
        rows.append(
            {
                "source_value": value,
                "category": code,
                "excluded": "yes" if excluded else "no",
                "category_name": name,
                "theme": theme,
                "stored_rows": stored.get(value, 0),
            }
        )
        listed.add(value)
    for value in sorted(set(stored) - listed):
        rows.append(
            {
                "source_value": value,
                "category": "",
                "excluded": "no",
                "category_name": "(not mapped: counted as unknown)",
                "theme": "",
                "stored_rows": stored[value],
            }
        )
    return rows


def _unneutralised(text: str) -> str:
    """Undo the export's guard against spreadsheet formulas (a ``'`` before = + - @)."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@":
        return text[1:]
    return text


def _read(path: Path) -> tuple[dict[str, str], set[str]]:
    """(value -> canonical code, excluded values) from a crosswalk CSV, every row checked;
    the errors (up to :data:`MAX_ERRORS`) name the file, row and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportRejected(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportRejected(f"{path}: not a readable UTF-8 CSV file ({exc})") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportRejected(
            f"{path}: row 0 (the header): no {', '.join(repr(c) for c in missing)} column "
            f"(the header must name {', '.join(REQUIRED)}; `csp crosswalk export` writes it)"
        )
    reader.fieldnames = header
    codes = set(Category.objects.values_list("code", flat=True))
    mapped: dict[str, str] = {}
    excluded: set[str] = set()
    first_row: dict[str, int] = {}
    errors: list[str] = []
    for row_number, row in enumerate(reader, start=1):
        where = f"{path}: row {row_number} (line {reader.line_num})"
        if None in row:
            errors.append(f"{where}: more fields than the header's {len(header)}")
            continue
        value = _unneutralised(row["source_value"] or "")
        code = (row["category"] or "").strip()
        flag = (row["excluded"] or "").strip().lower()
        if not value.strip():
            errors.append(f"{where}, column 'source_value': empty")
            continue
        if value in first_row:
            errors.append(
                f"{where}, column 'source_value': {value!r} is already on row {first_row[value]}"
            )
            continue
        first_row[value] = row_number
        if flag not in YES | NO:
            errors.append(f"{where}, column 'excluded': {flag!r} is not yes or no")
        elif flag in YES and code:
            errors.append(
                f"{where}, column 'category': {value!r} is excluded, so it cannot also map to "
                f"{code!r} (leave one of them empty)"
            )
        elif flag in YES:
            excluded.add(value)
        elif code and code not in codes:
            errors.append(
                f"{where}, column 'category': {code!r} is not a canonical category "
                "(`csp crosswalk categories` lists them)"
            )
        elif code:
            mapped[value] = code
    if errors:
        more = f" (and {len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
        raise ImportRejected("\n".join(errors[:MAX_ERRORS]) + more + "\nNothing was changed.")
    return mapped, excluded


def crosswalk_import(
    source_code: str, path: Path, *, dry_run: bool = False
) -> CrosswalkImportResult:
    """A new version of the source's organisation's crosswalk for its scheme from a CSV,
    and the stored records of that organisation's sources of the scheme re-mapped to it;
    all or nothing (a dry run checks and counts, then rolls back). A file equal to the
    version in force changes nothing."""
    reference_data_ensure()
    source = _source(source_code)
    mapped, excluded = _read(path)
    with transaction.atomic():
        before = crosswalk_in_force(source.scheme, source.organisation)
        old_mapped, old_excluded = crosswalk_as_dict(before)
        codes = dict(Category.objects.values_list("id", "code"))
        old = {v: codes[c] for v, c in old_mapped.items() if c is not None}
        saved = crosswalk_save(
            source.scheme,
            mapped,
            sorted(excluded),
            note=f"from {path.name} (csp crosswalk import)",
            where=str(path),
            organisation=source.organisation,
            by_user="command line",
        )
        owner = source.organisation.name if source.organisation else "reference"
        result = CrosswalkImportResult(
            dry_run=dry_run,
            file=str(path),
            source=source.code,
            scheme=source.scheme,
            owner=owner,
            before=(
                f"{_owner(before.organisation.name if before.organisation else None)} "
                f"version {before.version}"
                if before
                else None
            ),
            before_pk=before.pk if before else None,
            after=saved.version,
            after_pk=saved.pk,
            mapped=len(mapped),
            excluded=len(excluded - set(mapped)),
            from_mapping_file=ImportBatch.objects.filter(
                source__scheme=source.scheme,
                source__organisation=source.organisation,
                mapping__isnull=False,
            ).exists(),
        )
        if result.changed:
            result.rows_remapped = crosswalk_remap(source.scheme, source.organisation)
            result.changed_values = sorted(
                v
                for v in set(old) | set(mapped) | old_excluded | excluded
                if old.get(v) != mapped.get(v) or (v in old_excluded) != (v in excluded)
            )
            result.excluded_before_now_mapped = sorted(old_excluded & set(mapped))
        if dry_run:
            transaction.set_rollback(True)
    return result
