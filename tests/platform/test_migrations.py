"""Migration 0003 moves stored incident locations into places and back, losing nothing.

A real database of its own (the suite's engine), migrated by `csp migrate` in a subprocess:
incidents are written at the old schema, moved into places, then the migration is reversed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.platform.conftest import CSP, run

OLD_ROWS = [
    # ident, lon, lat, easting, northing, precision, text, lsoa given
    ("201901aaa", -1.2345, 54.5678, 447000.0, 520000.0, "snap", "On or near A Street", "E01"),
    ("201901bbb", -1.2345, 54.5678, 447000.0, 520000.0, "snap", "On or near A Street", "E01"),
    ("201901ccc", None, None, None, None, "none", "No Location", "E02"),
    ("201902ddd", -1.5, 54.9, 430000.0, 560000.0, "exact", "Somewhere", ""),
]
SQL = """
import json, sys
from django.db import connection
rows = json.loads(sys.argv[1])
with connection.cursor() as c:
    if rows:
        c.execute("INSERT INTO core_organisation (slug, name, kind) VALUES ('p', 'P', 'police')")
        c.execute("SELECT id FROM core_organisation WHERE slug = 'p'")
        org = c.fetchone()[0]
        c.execute("INSERT INTO incidents_source (code, name, organisation_id, kind, scheme, format,"
                  " identity_rule) VALUES ('s', 'S', %s, 'incidents', 'police-uk', 'police-uk', '')",
                  [org])
        c.execute("SELECT id FROM incidents_source WHERE code = 's'")
        source = c.fetchone()[0]
        c.execute("INSERT INTO incidents_importbatch (source_id, started_at, files, rows_read,"
                  " rows_new, rows_duplicate, rows_excluded, months, by_user) VALUES"
                  " (%s, '2020-01-01', '[]', 0, 0, 0, 0, '[]', '')", [source])
        c.execute("SELECT id FROM incidents_importbatch")
        batch = c.fetchone()[0]
        for r in rows:
            c.execute(
                "INSERT INTO incidents_incident (source_id, batch_id, ident, source_ref,"
                " source_category, month, date_precision, lon, lat, easting, northing,"
                " location_precision, location_text, lsoa_given, outcome) VALUES"
                " (%s, %s, %s, '', 'Burglary', %s, 'month', %s, %s, %s, %s, %s, %s, %s, '')",
                [source, batch, r[0], r[0][:4] + "-" + r[0][4:6] + "-01", *r[1:]],
            )
    c.execute("SELECT ident, lon, lat, easting, northing, location_precision, location_text,"
              " lsoa_given FROM incidents_incident ORDER BY ident")
    print(json.dumps([list(r) for r in c.fetchall()]))
"""
PLACES = """
import json
from django.db import connection
with connection.cursor() as c:
    c.execute("SELECT COUNT(*) FROM incidents_place")
    places = c.fetchone()[0]
    c.execute("SELECT COUNT(DISTINCT place_id) FROM incidents_incident")
    print(json.dumps([places, c.fetchone()[0]]))
"""


def shell(env: dict[str, str], code: str, *args: str) -> str:
    env = {**env, "DJANGO_SETTINGS_MODULE": "csp_platform.settings"}
    setup = "import django; django.setup()\n"
    done = subprocess.run(
        [CSP[0], "-c", setup + code, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_locations_move_into_places_and_back(fresh_env: dict[str, str], tmp_path: Path) -> None:
    run(fresh_env, "migrate", "-v0")
    run(fresh_env, "migrate", "incidents", "0002", "-v0")
    before = json.loads(shell(fresh_env, SQL, json.dumps(OLD_ROWS)))
    assert len(before) == 4
    run(fresh_env, "migrate", "-v0")
    # two incidents at the same map point share a place; four rows, three places
    assert json.loads(shell(fresh_env, PLACES)) == [3, 3]
    run(fresh_env, "migrate", "incidents", "0002", "-v0")
    assert json.loads(shell(fresh_env, SQL, "[]")) == before
