"""What every ``csp`` command shares: domain errors become one clear line and exit code 1."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from csp_platform.core.errors import DomainError

T = TypeVar("T")


class CspCommand(BaseCommand):
    """Base for ``csp`` commands: ``run`` does the work; DomainError -> CommandError."""

    run: Any  # each command defines run(**options)
    # Django's system checks load the whole web app (URLs, views, SciPy): seconds of start-up
    # that a data command does not need. `csp check` runs them; so does the test suite.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        _require_migrated()
        try:
            self.run(**options)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc


def _require_migrated() -> None:
    """Refuse to run on a database that lacks a migration on disk.

    The quick test compares migration file names with the ``django_migrations`` table (a few
    milliseconds); only if it finds a gap is Django's migration graph loaded (a tenth of a
    second) to decide, so that squashed or replaced migrations are judged correctly.
    """
    from django.apps import apps
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.db.migrations.recorder import MigrationRecorder

    connection = connections[DEFAULT_DB_ALIAS]
    recorder = MigrationRecorder(connection)
    if recorder.has_table():
        applied = set(recorder.applied_migrations())
        on_disk = {
            (config.label, path.stem)
            for config in apps.get_app_configs()
            for path in (Path(config.path) / "migrations").glob("[0-9]*.py")
        }
        if on_disk <= applied:
            return
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise CommandError("the database is not set up or not up to date: run `csp migrate`")


def progress_bar(unit: str) -> Any:
    """A tqdm progress bar on stderr (hidden when stderr is not a terminal)."""

    def wrap(items: Iterable[T]) -> Iterable[T]:
        bar: Iterable[T] = tqdm(
            list(items),
            unit=unit,
            file=sys.stderr,
            disable=None,
            dynamic_ncols=True,
            desc="importing",
        )
        return bar

    return wrap


def parse_month(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise CommandError(f"{option} must be a month like 2021-03, not {value!r}") from None


def existing_paths(values: list[str]) -> list[Path]:
    paths = [Path(v) for v in values]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CommandError(f"no such file or folder: {', '.join(missing)}")
    return paths
