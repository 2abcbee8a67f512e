"""Conventions that matter get a test."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_csp_setting_is_documented_in_the_readme():
    settings = (ROOT / "src/csp_platform/settings.py").read_text()
    used = set(re.findall(r'env_\w+\("(CSP_\w+)"', settings))
    readme = (ROOT / "README.md").read_text()
    assert used and not {name for name in used if f"`{name}`" not in readme}


def test_the_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text().splitlines()[:6]
    assert any(line.startswith("make demo") for line in head)
    assert any(line.startswith("make test") for line in head)


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci/run").read_text()
