"""The layers contract (pyproject.toml, import-linter) holds for the code, and fails for a
deliberate bad import: core, at the bottom, importing an app above it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the source tree and its import-linter configuration."""
    shutil.copytree(
        ROOT / "src",
        tmp_path / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "static", "templates"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_hold_for_the_code(tree: Path) -> None:
    run = lint(tree)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "Layers: core at the bottom" in run.stdout and "KEPT" in run.stdout


@pytest.mark.parametrize(
    "module, bad_import",
    [
        ("core/models.py", "from csp_platform.hub import views as _upward"),
        ("areas/services.py", "from csp_platform.incidents import services as _upward"),
        ("hub/views.py", "from csp_platform.plans import selectors as _sideways"),
    ],
)
def test_a_deliberate_bad_import_breaks_the_contract(tree: Path, module: str, bad_import: str):
    path = tree / "src" / "csp_platform" / module
    path.write_text(path.read_text() + f"\n{bad_import}  # noqa\n")
    run = lint(tree)
    assert run.returncode != 0, run.stdout[-3000:]
    assert "Layers: core at the bottom" in run.stdout and "BROKEN" in run.stdout
