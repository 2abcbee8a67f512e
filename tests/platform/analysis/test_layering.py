"""The architecture rule: `analysis` is the only app that imports the analytics methods."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "csp_platform"
METHODS = ("compare", "emerging", "forecast", "hotspots", "repeats")


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_only_the_analysis_app_imports_the_analytics_methods():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if "analysis" in path.relative_to(SRC).parts or "migrations" in path.parts:
            continue
        for module in imported_modules(path):
            if any(module.startswith(f"csp_analytics.{m}") for m in METHODS):
                offenders.append(f"{path.relative_to(SRC)}: {module}")
    assert offenders == []


def test_the_rule_sees_an_import_it_should_refuse(tmp_path):
    bad = tmp_path / "views.py"
    bad.write_text("from csp_analytics.hotspots import kde_grid\n")
    assert "csp_analytics.hotspots" in imported_modules(bad)
