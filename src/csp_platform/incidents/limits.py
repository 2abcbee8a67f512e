"""What an import accepts from a file or a mapping (docs/importing.md#limits).

Hostile input must cost little: the readers refuse a file past the ``CSP_IMPORT_*`` limits
as soon as that is seen (:class:`csp_analytics.io.Limits`), and a mapping is read as plain
YAML, without the anchors and aliases that let a few hundred bytes expand to gigabytes
("billion laughs") when the mapping is stored with the import batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from csp_analytics import io as readers
from csp_platform.core.errors import ImportRejected

MAPPING_MAX_BYTES = 256 * 1024


def import_limits() -> readers.Limits:
    """The readers' limits, from the settings."""
    kb, mb = readers.KB, readers.MB
    return readers.Limits(
        file_bytes=settings.CSP_IMPORT_MAX_FILE_MB * mb,
        record_bytes=settings.CSP_IMPORT_MAX_RECORD_KB * kb,
        field_bytes=settings.CSP_IMPORT_MAX_FIELD_KB * kb,
        rows=settings.CSP_IMPORT_MAX_ROWS,
        columns=settings.CSP_IMPORT_MAX_COLUMNS,
        cells=settings.CSP_IMPORT_MAX_CELLS,
        shared_strings_bytes=settings.CSP_IMPORT_MAX_SHARED_STRINGS_MB * mb,
    )


class _AliasRefused(yaml.YAMLError):
    def __init__(self, mark: yaml.Mark | None) -> None:
        self.mark = mark
        at = f"line {mark.line + 1}: " if mark is not None else ""
        super().__init__(
            f"{at}YAML anchors and aliases (& and *) are not accepted in a mapping; "
            "write each value out"
        )


class _PlainLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses anchors and aliases (checked as each node is
    composed, before anything is built from it)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _AliasRefused(event.start_mark)
        return super().compose_node(parent, index)


def mapping_read(path: Path) -> Any:
    """The parsed YAML of a mapping file, refusing a file over 256 KB, anchors and aliases,
    and nesting too deep to parse; every refusal names the file."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAPPING_MAX_BYTES + 1)
    except OSError as exc:
        raise ImportRejected(f"{path}: the mapping cannot be read ({exc})") from exc
    if len(raw) > MAPPING_MAX_BYTES:
        raise ImportRejected(f"{path}: a mapping must be under 256 KB")
    try:
        return yaml.load(raw.decode("utf-8"), Loader=_PlainLoader)  # noqa: S506  (safe loader)
    except UnicodeDecodeError as exc:
        raise ImportRejected(f"{path}: not a readable YAML mapping (not UTF-8 text)") from exc
    except RecursionError as exc:
        raise ImportRejected(f"{path}: not a readable YAML mapping (nested too deeply)") from exc
    except yaml.YAMLError as exc:
        raise ImportRejected(f"{path}: not a readable YAML mapping ({exc})") from exc
