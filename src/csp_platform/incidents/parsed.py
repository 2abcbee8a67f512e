"""Files read, checked and parsed before an import takes the database's write lock.

An import writes in one transaction, and on SQLite that transaction holds the database's
only write lock: while it is open nobody can sign in (a sign-in writes its session). So the
slow, input-dependent part, reading and checking every row of every file, is done first,
outside any transaction: each block the reader yields (normalised, every row checked) is
kept in a private scratch folder under ``CSP_VAR_DIR`` as an Arrow IPC file, and the
transaction then only reads those back and writes. A bad or hostile file is refused before
the transaction starts, so it never holds the lock at all. Memory stays at about one block:
the blocks are on disk, read back one at a time.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import polars as pl
from django.conf import settings

from csp_analytics import io as readers
from csp_platform.core.errors import ImportRejected


class ParsedFiles:
    """The parsed blocks of each file, in the order read; see :func:`parse_first`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._blocks: dict[Path, list[list[Path]]] = {}  # per file, per time it was given
        self._count = 0

    def add(self, path: Path, frames: Iterator[pl.DataFrame]) -> None:
        blocks: list[Path] = []
        self._blocks.setdefault(path, []).append(blocks)
        self._count += 1
        for frame in frames:
            block = self.folder / f"{self._count}-{len(blocks)}.arrow"
            frame.write_ipc(block, compression="lz4")
            blocks.append(block)

    def frames(self, path: Path) -> Iterator[pl.DataFrame]:
        """The blocks of one file as the reader yielded them (each read once, then let go).
        A file given twice is read back twice, in the order it was given."""
        for block in self._blocks[path].pop(0):
            yield pl.read_ipc(block)
            block.unlink()


@contextmanager
def parse_first(
    files: Sequence[Path], read: Callable[[Path], Iterator[pl.DataFrame]]
) -> Iterator[ParsedFiles]:
    """Read and check every file with ``read`` before anything is written; a bad row or a
    file past the limits raises :class:`ImportRejected` (nothing was written). The scratch
    folder is removed afterwards, whatever happens."""
    root = Path(settings.VAR_DIR) / "parsing"
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=root, prefix="import-"))
    try:
        parsed = ParsedFiles(folder)
        try:
            for path in files:
                parsed.add(path, read(path))
        except (readers.RowError, readers.MappingError) as exc:
            raise ImportRejected(f"{exc}. Nothing was imported.") from exc
        yield parsed
    finally:
        shutil.rmtree(folder, ignore_errors=True)
