"""A crosswalk changed with `csp crosswalk import` shows on the next page load: the cached
results (here the data page's quality report) are not served stale."""

from __future__ import annotations

import csv
import io
from collections import Counter
from io import StringIO

from django.core.management import call_command
from django.urls import reverse

from tests.platform.conftest import raw_rows
from tests.platform.web.conftest import MIDDLESBROUGH, police_files
from tests.platform.web.conftest import VerifiedClient as Client

POLICE = "police-uk-cleveland-police"


def test_a_crosswalk_import_shows_on_the_next_page_load(personas, tmp_path):
    client = Client()
    client.force_login(personas["data_manager"])
    page = reverse("incidents:data", args=[MIDDLESBROUGH])
    before = client.get(page).content.decode()
    assert "Bicycle theft (" not in before

    out = StringIO()
    call_command("csp_crosswalk", "export", "--source", POLICE, stdout=out)
    rows = [
        r
        for r in csv.DictReader(io.StringIO(out.getvalue()))
        if r["source_value"] != "Bicycle theft"
    ]
    path = tmp_path / "no-bicycles.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    call_command("csp_crosswalk", "import", "--source", POLICE, str(path), stdout=StringIO())

    bicycles = Counter(r["Crime type"] for p in police_files() for r in raw_rows(p))[
        "Bicycle theft"
    ]
    after = client.get(page).content.decode()
    assert f"Bicycle theft ({bicycles})" in after
