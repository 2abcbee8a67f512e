"""Migrations 0006/0007 give what was stored before ownership its owners, and reverse.

A real database of its own (the suite's engine), migrated by `csp migrate` in a subprocess.
"""

from __future__ import annotations

import json

from tests.platform.conftest import run
from tests.platform.test_migrations import shell

BEFORE = """
from django.db import connection
with connection.cursor() as c:
    c.execute("INSERT INTO core_organisation (slug, name, kind) VALUES ('force', 'F', 'police')")
    c.execute("INSERT INTO core_organisation (slug, name, kind) VALUES ('fire', 'B', 'fire')")
    c.execute("SELECT slug, id FROM core_organisation")
    org = dict(c.fetchall())
    for code, o, scheme in (("p", "force", "police-uk"), ("f", "fire", "stop-code")):
        c.execute("INSERT INTO incidents_source (code, name, organisation_id, kind, scheme,"
                  " format, identity_rule) VALUES (%s, %s, %s, 'incidents', %s, 'mapped', '')",
                  [code, code, org[o], scheme])
        c.execute("SELECT id FROM incidents_source WHERE code = %s", [code])
        c.execute("INSERT INTO incidents_importbatch (source_id, started_at, files, rows_read,"
                  " rows_new, rows_duplicate, rows_excluded, months, by_user) VALUES"
                  " (%s, '2020-01-01', '[]', 0, 0, 0, 0, '[]', '')", [c.fetchone()[0]])
    for scheme in ("police-uk", "stop-code"):
        c.execute("INSERT INTO incidents_crosswalk (scheme, version, created_at, note)"
                  " VALUES (%s, 1, '2020-01-01', '')", [scheme])
"""
AFTER = """
import json
from django.db import connection
with connection.cursor() as c:
    c.execute("SELECT s.code, o.slug FROM incidents_importbatch b"
              " JOIN incidents_source s ON s.id = b.source_id"
              " JOIN core_organisation o ON o.id = b.organisation_id ORDER BY s.code")
    batches = c.fetchall()
    c.execute("SELECT w.scheme, o.slug FROM incidents_crosswalk w"
              " LEFT JOIN core_organisation o ON o.id = w.organisation_id ORDER BY w.scheme")
    print(json.dumps([batches, c.fetchall()]))
"""


def test_batches_and_partner_crosswalks_get_their_owners_and_it_reverses(fresh_env):
    run(fresh_env, "migrate", "incidents", "0005", "-v0")
    shell(fresh_env, BEFORE)
    run(fresh_env, "migrate", "incidents", "0007", "-v0")
    batches, crosswalks = json.loads(shell(fresh_env, AFTER))
    assert batches == [["f", "fire"], ["p", "force"]]
    # a partner scheme's versions belong to the one organisation using it; police.uk's
    # stay the shared reference
    assert crosswalks == [["police-uk", None], ["stop-code", "fire"]]
    run(fresh_env, "migrate", "incidents", "0005", "-v0")
    run(fresh_env, "migrate", "-v0")
