"""Production fails closed, the deploy check is clean with the documented production
variables, and the SQLite file is its owner's alone (issue 9, item 6)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

# docs/operations.md, "Production settings"
PRODUCTION = {
    "CSP_SECRET_KEY": "k3y-" + "x7Qp9" * 12,
    "CSP_ALLOWED_HOSTS": "hub.example.org",
    "CSP_SECURE_COOKIES": "True",
}


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A production-like environment: not under pytest, no debug, no database URL."""
    drop = {"PYTEST_VERSION", "CSP_DEBUG", "CSP_SECRET_KEY", "CSP_SECRET_KEY_FILE", "DATABASE_URL"}
    drop |= {"DJANGO_ALLOW_ASYNC_UNSAFE"}  # set by the browser tests' fixture, never in production
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update({"CSP_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "csp_platform.settings"})
    env.update(extra)
    return env


def _csp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from csp_platform.cli import main; main()", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_without_a_secret_key_production_refuses_to_start(tmp_path):
    env = _env(tmp_path, CSP_ALLOWED_HOSTS="hub.example.org", CSP_SECURE_COOKIES="True")
    server = subprocess.run(
        [sys.executable, "-c", "import csp_platform.wsgi"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert server.returncode != 0
    assert "CSP_SECRET_KEY is not set" in server.stderr
    check = _csp(env, "check", "--deploy")
    assert check.returncode != 0 and "csp.E001" in check.stderr
    assert "CSP_SECRET_KEY is not set" in check.stderr
    # No built-in key: anything that signs refuses.
    code = "import django; django.setup(); from django.core import signing; signing.dumps(1)"
    signed = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert signed.returncode != 0 and "SECRET_KEY" in signed.stderr
    # With the key, the server starts; in debug (a developer's machine) a throwaway key is
    # made for the process.
    started = subprocess.run(
        [sys.executable, "-c", "import csp_platform.wsgi"],
        env={**env, "CSP_SECRET_KEY": PRODUCTION["CSP_SECRET_KEY"]},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert _csp(_env(tmp_path, CSP_DEBUG="True"), "check").returncode == 0


def test_the_deploy_check_is_clean_with_the_documented_production_variables(tmp_path):
    done = _csp(_env(tmp_path, **PRODUCTION), "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_the_documented_production_variables_are_in_the_operations_page():
    page = (Path(__file__).resolve().parents[2] / "docs/operations.md").read_text()
    assert all(f"`{name}" in page for name in PRODUCTION)


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_the_sqlite_file_and_its_wal_and_shm_are_the_owners_alone(tmp_path, umask):
    code = (
        "import os, django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('CREATE TABLE t (x int)'); c.execute('INSERT INTO t VALUES (1)')\n"
        "    for suffix in ('', '-wal', '-shm'):\n"
        "        p = connection.settings_dict['NAME'] + suffix\n"
        "        print(suffix or 'db', oct(os.stat(p).st_mode & 0o777))\n"
    )
    env = _env(tmp_path, CSP_SECRET_KEY="k" * 50)
    done = subprocess.run(
        ["/bin/sh", "-c", f'umask {umask:03o}; exec "$0" -c "$1"', sys.executable, code],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    modes = dict(line.split() for line in done.stdout.splitlines())
    assert modes == {"db": "0o600", "-wal": "0o600", "-shm": "0o600"}
    assert stat.S_IMODE((tmp_path / "csp.sqlite3").stat().st_mode) == 0o600


def test_an_existing_sqlite_file_readable_by_others_is_tightened(tmp_path):
    db = tmp_path / "csp.sqlite3"
    db.touch()
    db.chmod(0o644)
    done = _csp(_env(tmp_path, CSP_SECRET_KEY="k" * 50), "check")
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
