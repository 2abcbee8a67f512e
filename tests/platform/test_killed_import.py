"""A killed import leaves the database exactly as it was (a real process, SIGKILLed)."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.platform.conftest import CSP, raw_rows, run


def snapshot(env: dict[str, str]) -> str:
    return run(env, "counts", "--by", "source,month,category", "--format", "json") + run(
        env, "quality", "--format", "json"
    )


@pytest.mark.slow
def test_an_import_killed_at_any_point_leaves_the_database_unchanged(fresh_env, data_dir):
    north = data_dir / "police" / "northumbria"
    run(fresh_env, "migrate", "-v0")
    run(
        fresh_env,
        "import-areas",
        "--level",
        "ward",
        *[str(p) for p in sorted((data_dir / "boundaries/wards_2013").glob("E08*.geojson"))],
    )
    run(fresh_env, "import-incidents", "--format", "police-uk", str(north / "2020-05"))
    before = snapshot(fresh_env)
    # 19 monthly files (about 300,000 rows): long enough to be killed part-way on any machine
    months = sorted(str(p) for p in north.iterdir() if "2020-06" <= p.name <= "2021-12")
    started = time.perf_counter()
    run(fresh_env, "import-incidents", "--format", "police-uk", "--dry-run", *months)
    measured = time.perf_counter() - started
    for fraction in (0.25, 0.6):
        proc = subprocess.Popen(
            [*CSP, "import-incidents", "--format", "police-uk", *months],
            env=fresh_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(measured * fraction)
        assert proc.poll() is None, "the import finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert snapshot(fresh_env) == before
    # and the same import, left to finish, adds exactly those months
    run(fresh_env, "import-incidents", "--format", "police-uk", *months)
    totals = json.loads(run(fresh_env, "counts", "--by", "month", "--format", "json"))
    raw = [
        sum(1 for _ in raw_rows(p))
        for p in sorted(north.glob("*/*.csv.gz"))
        if "2020-05" <= p.parent.name <= "2021-12"
    ]
    assert [r["incidents"] for r in totals] == raw
    assert raw[:3] == [19_344, 17_118, 14_055]  # SOURCES.md


def test_a_command_refuses_a_database_that_is_not_up_to_date(fresh_env: dict[str, str]) -> None:
    def counts() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CSP, "counts", "--by", "month"],
            env=fresh_env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    never = counts()  # no migration at all
    assert never.returncode == 1 and "run `csp migrate`" in never.stderr
    run(fresh_env, "migrate", "incidents", "0003", "-v0")  # one migration short
    behind = counts()
    assert behind.returncode == 1 and "run `csp migrate`" in behind.stderr
    run(fresh_env, "migrate", "-v0")
    assert counts().returncode == 0
