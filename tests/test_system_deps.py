"""scripts/system_deps.sh names what a fresh machine lacks, on a PATH made for each test.

Only ``--check`` runs here (it never installs): a PATH of links to the tools a base image
has, with or without a stand-in for each package the tests need.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "system_deps.sh"
BASE_TOOLS = ("bash", "env", "id", "ls", "sort", "tail", "grep", "make", "runuser")


def run(tmp_path: Path, *, present: tuple[str, ...], args: tuple[str, ...], pgbin: Path):
    bin_dir = tmp_path / "bin"
    if bin_dir.exists() and (bin_dir / "bash").exists():  # a second run in the same test
        shutil.rmtree(bin_dir)
    bin_dir.mkdir(exist_ok=True)
    for tool in BASE_TOOLS:
        found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
        assert found, f"{tool} is not on this machine"
        (bin_dir / tool).symlink_to(found)
    (bin_dir / "python3.11").symlink_to(sys.executable)
    for name in present:
        stand_in = bin_dir / name
        if name == "fc-match":  # answers as fontconfig does with fonts-liberation installed
            stand_in.write_text("#!/bin/sh\necho 'Liberation Sans'\n")
        else:
            stand_in.write_text("#!/bin/sh\nexit 0\n")
        stand_in.chmod(0o755)
    env = {"PATH": str(bin_dir), "PGBIN": str(pgbin), "HOME": str(tmp_path)}
    return subprocess.run(
        ["bash", str(SCRIPT), "--check", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def pgbin(tmp_path: Path) -> Path:
    folder = tmp_path / "pg" / "bin"
    folder.mkdir(parents=True)
    for tool in ("initdb", "pg_ctl"):
        (folder / tool).write_text("#!/bin/sh\n")
        (folder / tool).chmod(0o755)
    return folder


def missing_packages(stderr: str) -> list[str]:
    first = stderr.splitlines()[0]
    assert "are missing: " in first, stderr
    return first.split("are missing: ", 1)[1].split()


def test_a_machine_without_chromium_npm_or_fonts_is_told_which_packages_to_install(tmp_path, pgbin):
    done = run(tmp_path, present=(), args=("test",), pgbin=pgbin)
    assert done.returncode == 1
    assert missing_packages(done.stderr) == [
        "nodejs",
        "npm",
        "chromium",
        "fontconfig",
        "fonts-liberation",
    ]
    assert "apt-get update && apt-get install -y nodejs npm chromium" in done.stderr


def test_missing_postgresql_server_binaries_are_named(tmp_path):
    done = run(
        tmp_path,
        present=("node", "npm", "chromium", "fc-match"),
        args=("test",),
        pgbin=tmp_path / "nowhere",
    )
    assert done.returncode == 1 and missing_packages(done.stderr) == ["postgresql"]


def test_a_complete_machine_passes_silently(tmp_path, pgbin):
    done = run(
        tmp_path, present=("node", "npm", "chromium", "fc-match"), args=("test",), pgbin=pgbin
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_the_demo_needs_npm_but_not_chromium(tmp_path, pgbin):
    assert run(tmp_path, present=("node", "npm"), args=("demo",), pgbin=pgbin).returncode == 0
    done = run(tmp_path, present=("node",), args=(), pgbin=pgbin)
    assert done.returncode == 1 and missing_packages(done.stderr) == ["npm"]
    assert "make demo" in done.stderr


def test_arial_without_liberation_sans_asks_for_the_fonts(tmp_path, pgbin):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "fc-match").write_text("#!/bin/sh\necho 'DejaVu Sans'\n")
    (bin_dir / "fc-match").chmod(0o755)
    done = run(tmp_path, present=("node", "npm", "chromium"), args=("test",), pgbin=pgbin)
    assert done.returncode == 1 and missing_packages(done.stderr) == ["fonts-liberation"]


def test_the_makefile_and_ci_both_call_the_script():
    makefile = (ROOT / "Makefile").read_text()
    assert "scripts/system_deps.sh test" in makefile and "scripts/system_deps.sh demo" in makefile
    assert "scripts/system_deps.sh test" in (ROOT / ".ci" / "run").read_text()
    assert os.access(SCRIPT, os.X_OK)
