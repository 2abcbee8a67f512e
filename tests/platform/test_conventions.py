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


def walk(resolver, prefix: str = ""):  # type: ignore[no-untyped-def]
    """Every URL pattern as (namespaced name, pattern), the admin site left out (Django's own
    staff-only views)."""
    from django.urls import URLPattern, URLResolver

    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue
            space = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from walk(entry, space)
        elif isinstance(entry, URLPattern):
            yield f"{prefix}{entry.name}", entry


def test_every_url_pattern_declares_who_may_use_it():
    from django.urls import get_resolver

    from csp_platform.core.permissions import PUBLIC, SIGNED_IN, Perm

    rules = {name: getattr(p.callback, "access_rule", None) for name, p in walk(get_resolver())}
    assert rules, "no URL patterns found"
    undeclared = [
        n
        for n, rule in rules.items()
        if not (isinstance(rule, Perm) or rule in (PUBLIC, SIGNED_IN))
    ]
    assert not undeclared, f"views without @requires/@signed_in/@public: {undeclared}"
    # the sign-in page, and the one-time set-password link of an invited member
    public = [n for n, rule in rules.items() if rule == PUBLIC]
    assert public == ["core:sign_in", "core:set_password"]


def _access_matrix_in_docs() -> dict[str, dict[str, bool]]:
    """docs/access-control.md's matrix (the table headed "| permission |"):
    permission -> role -> allowed."""
    lines = (ROOT / "docs/access-control.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| permission |"))
    roles = [c.strip().strip("`") for c in lines[start].strip("|").split("|")[1:]]
    table = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert all(c in ("yes", "no") for c in cells[1:]), line
        table[cells[0].strip("`")] = {r: c == "yes" for r, c in zip(roles, cells[1:])}
    return table


def test_the_access_control_page_holds_every_role_and_permission_exactly():
    from csp_platform.core.models import Role
    from csp_platform.core.permissions import ROLE_PERMISSIONS, Perm

    documented = _access_matrix_in_docs()
    code = {p.value: {r.value: p in ROLE_PERMISSIONS[r] for r in Role} for p in Perm}
    assert documented == code


def test_package_json_pins_exact_versions_and_has_a_lock_file():
    import json

    package = json.loads((ROOT / "package.json").read_text())
    versions = {**package["dependencies"], **package["devDependencies"]}
    assert versions and all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in versions.values())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    assert "src/csp_platform/core/static/vendor/" in (ROOT / ".gitignore").read_text()
