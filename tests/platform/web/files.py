"""Upload files cut from the real police.uk files in ../shared/data: one district's rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.platform.web.conftest import police_files

# partnership slug -> the LSOA-name prefix of its district in police.uk files
DISTRICT_PREFIX = {
    "middlesbrough": "Middlesbrough ",
    "redcar-cleveland": "Redcar and Cleveland ",
    "hartlepool": "Hartlepool ",
    "stockton": "Stockton-on-Tees ",
}


def police_rows_in(
    partnership: str, month: str = "2018-10", *, shift: float = 0.0
) -> tuple[str, bytes, int]:
    """(file name, CSV bytes, rows): the rows of a real Cleveland police.uk month whose LSOA
    lies in the partnership's district; ``shift`` (degrees) moves every point off the
    published map points, as an exact address would be."""
    source = police_files((month,))[0]
    with source.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = [r for r in reader if r["LSOA name"].startswith(DISTRICT_PREFIX[partnership])]
    for r in rows:
        if shift and r["Longitude"]:
            r["Longitude"] = f"{float(r['Longitude']) + shift:.6f}"
            r["Latitude"] = f"{float(r['Latitude']) + shift:.6f}"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Path(source).name, out.getvalue().encode(), len(rows)


def police_file_as_partner_mapping(
    *,
    code: str,
    organisation: str,
    scheme: str = "police-uk",
    categories: dict[str, str] | None = None,
    exclude: tuple[str, ...] = (),
    precision: str = "exact",
) -> bytes:
    """A YAML mapping that reads a police.uk file as a partner's incident file."""
    cats = categories or {"Anti-social behaviour": "anti-social-behaviour"}
    lines = [
        f"source: {{code: {code}, name: {code}, organisation: {organisation!r}, "
        "organisation_kind: council}",
        "kind: incidents",
        f"scheme: {scheme}",
        "columns: {reference: Crime ID, category: Crime type, date: Month, "
        "location_text: Location, lsoa: LSOA code}",
        "date_format: month",
        f"coordinates: [{{system: wgs84, x: Longitude, y: Latitude, precision: {precision}}}]",
        "categories:",
        *[f"  {k}: {v}" for k, v in cats.items()],
        f"exclude: [{', '.join(exclude)}]",
        "unlisted: keep",
    ]
    return ("\n".join(lines) + "\n").encode()
