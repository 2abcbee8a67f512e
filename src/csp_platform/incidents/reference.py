"""Reference data: canonical categories, themes and versioned crosswalks.

The canonical list lives in ``reference/categories.yaml`` and the police.uk crosswalk in
``reference/police-uk.yaml``; partner crosswalks come from their mapping files. A crosswalk
version is never edited: a changed mapping makes a new version (docs/data-model.md).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from django.db import transaction

from csp_platform.core.errors import ImportRejected
from csp_platform.core.models import Organisation
from csp_platform.incidents.models import Category, Crosswalk, CrosswalkEntry, Theme

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"


def _load_yaml(path: Path) -> dict[str, object]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ImportRejected(f"{path}: expected a YAML mapping")
    return data


@transaction.atomic
def reference_data_ensure() -> None:
    """Create any canonical theme or category (and police.uk crosswalk v1) not yet stored."""
    data = _load_yaml(REFERENCE_DIR / "categories.yaml")
    themes: dict[str, Theme] = {}
    item: dict[str, str]
    for order, item in enumerate(data["themes"]):  # type: ignore[arg-type]
        theme, _ = Theme.objects.get_or_create(
            code=item["code"], defaults={"name": item["name"], "order": order}
        )
        themes[theme.code] = theme
    for theme_code, items in data["categories"].items():  # type: ignore[attr-defined]
        for item in items:
            Category.objects.get_or_create(
                code=item["code"], defaults={"name": item["name"], "theme": themes[theme_code]}
            )
    police = _load_yaml(REFERENCE_DIR / "police-uk.yaml")
    if not Crosswalk.objects.filter(scheme="police-uk", organisation=None).exists():
        crosswalk_save("police-uk", police["categories"], [], note=str(police.get("note", "")))  # type: ignore[arg-type]


def crosswalk_latest(scheme: str, organisation: Organisation | None = None) -> Crosswalk | None:
    """The newest version of ``scheme`` kept by ``organisation`` (None: the reference)."""
    return (
        Crosswalk.objects.filter(scheme=scheme, organisation=organisation)
        .order_by("-version")
        .first()
    )


def crosswalk_in_force(scheme: str, organisation: Organisation | None) -> Crosswalk | None:
    """The version that categorises an organisation's sources of ``scheme``: its own newest
    version, or else the reference version (shipped with the product)."""
    own = crosswalk_latest(scheme, organisation) if organisation is not None else None
    return own or crosswalk_latest(scheme)


def crosswalk_as_dict(crosswalk: Crosswalk | None) -> tuple[dict[str, int | None], set[str]]:
    """(source value -> category id, excluded values) for one version."""
    if crosswalk is None:
        return {}, set()
    mapped: dict[str, int | None] = {}
    excluded: set[str] = set()
    for value, category_id, is_excluded in crosswalk.entries.values_list(
        "source_value", "category_id", "excluded"
    ):
        if is_excluded:
            excluded.add(value)
        else:
            mapped[value] = category_id
    return mapped, excluded


def crosswalk_save(
    scheme: str,
    categories: dict[str, str],
    exclude: list[str] | frozenset[str],
    *,
    note: str = "",
    where: str = "crosswalk",
    organisation: Organisation | None = None,
    by_user: str = "",
) -> Crosswalk:
    """Store ``organisation``'s crosswalk for ``scheme`` (None: the reference), as a new
    version only if it differs from the one in force for that organisation; the new version
    records who made it and the version it replaces.

    Unknown category codes are rejected with the source value that names them.
    """
    codes = dict(Category.objects.values_list("code", "id"))
    wanted: dict[str, int | None] = {}
    for value, code in categories.items():
        if code not in codes:
            raise ImportRejected(
                f"{where}: categories: {value!r} maps to {code!r}, which is not a canonical "
                f"category (`csp crosswalk categories` lists them)"
            )
        wanted[str(value)] = codes[code]
    wanted_excluded = {str(v) for v in exclude}
    return crosswalk_store(
        scheme, wanted, wanted_excluded, organisation=organisation, note=note, by_user=by_user
    )


def crosswalk_store(
    scheme: str,
    wanted: dict[str, int | None],
    wanted_excluded: set[str],
    *,
    organisation: Organisation | None,
    note: str = "",
    by_user: str = "",
) -> Crosswalk:
    """Store (value -> category id, excluded values) as ``organisation``'s new version of
    ``scheme``, unless the version in force for it already says the same."""
    in_force = crosswalk_in_force(scheme, organisation)
    if in_force is not None and crosswalk_as_dict(in_force) == (wanted, wanted_excluded):
        return in_force
    latest = crosswalk_latest(scheme, organisation)
    version = 1 if latest is None else latest.version + 1
    crosswalk = Crosswalk.objects.create(
        scheme=scheme,
        organisation=organisation,
        version=version,
        note=note[:300],
        created_by=by_user[:150],
        replaces=in_force,
    )
    CrosswalkEntry.objects.bulk_create(
        [
            CrosswalkEntry(crosswalk=crosswalk, source_value=v, category_id=c)
            for v, c in wanted.items()
        ]
        + [
            CrosswalkEntry(crosswalk=crosswalk, source_value=v, excluded=True)
            for v in sorted(wanted_excluded - set(wanted))
        ]
    )
    return crosswalk
