"""Files read, checked and parsed before an import takes the database's write lock.

An import writes in one transaction, and on SQLite that transaction holds the database's
only write lock: while it is open nobody can sign in (a sign-in writes its session). So the
slow, input-dependent part, reading and checking every row of every file, is done first,
outside any transaction, and the transaction then only takes the parsed blocks (normalised,
every row checked) and writes. A bad or hostile file is refused before the transaction
starts, so it never holds the lock at all.

Memory stays bounded by a constant. The parsed blocks are kept in memory up to
``IN_MEMORY_BYTES`` in all, less their columns that hold one value (a police.uk month is
about 3 MB), so a one-month upload never touches the disk. Blocks past that go to a private
scratch folder under ``CSP_VAR_DIR`` as Arrow IPC files, read back one at a time by the
import's read-ahead thread. (Keeping all of the real 25-month Northumbria series in memory,
72 MB, made its import no faster and its peak memory 110 MB higher: the files are written
and read back off the import's critical path; docs/performance.md.) Files are parsed by
``PARSE_THREADS`` threads at once (polars does most of the work without the GIL; three
parse the Northumbria series in 0.8 s, two in 0.9 s, one in 1.4 s); the first bad file in
the order given is the one named.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from django.conf import settings

from csp_analytics import io as readers
from csp_platform.core.errors import ImportRejected

# Parsed blocks held in memory before later ones go to the scratch folder.
IN_MEMORY_BYTES = 4 * 2**20
# Files parsed at once (each holds at most one block in the making).
PARSE_THREADS = 3


class _Folded:
    """A block kept in memory without its columns that hold one value in every row (the
    file's name, the force, a police.uk row's month and date precision: about a third of
    a police.uk block's bytes), which :meth:`unfold` puts back."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.columns = frame.columns
        self.height = frame.height
        self.constants: dict[str, tuple[Any, pl.DataType]] = {}
        for column in frame.iter_columns() if frame.height else ():
            if column.dtype.is_nested() or column.dtype == pl.Object:
                continue
            nulls = column.null_count()
            if nulls == column.len():
                self.constants[column.name] = (None, column.dtype)
            elif nulls == 0 and column[0] == column[-1] and bool((column == column[0]).all()):
                self.constants[column.name] = (column[0], column.dtype)
        self.frame = frame.drop(list(self.constants))

    def estimated_size(self) -> int:
        return int(self.frame.estimated_size())

    def unfold(self) -> pl.DataFrame:
        return self.frame.with_columns(
            pl.repeat(value, self.height, dtype=dtype, eager=True).alias(name)
            for name, (value, dtype) in self.constants.items()
        ).select(self.columns)


_Held = _Folded | Path  # a block in memory, or its Arrow IPC file


class ParsedFiles:
    """The parsed blocks of each file, in the order read; see :func:`parse_first`."""

    def __init__(self, folder: Path, in_memory_bytes: int = IN_MEMORY_BYTES) -> None:
        self.folder = folder
        self.in_memory_bytes = in_memory_bytes
        self.held_bytes = 0  # bytes of the blocks kept in memory
        self.spilled = 0  # blocks written to the scratch folder
        self._blocks: dict[Path, list[list[_Held]]] = {}  # per file, per time it was given
        # (organisation, month) pairs of each file's rows, in the order the files were given
        self.months: list[set[tuple[Any, Any]]] = []
        self._lock = threading.Lock()
        self._count = 0

    def parse(
        self, path: Path, frames: Iterator[pl.DataFrame]
    ) -> tuple[list[_Held], set[tuple[Any, Any]]]:
        """Read one file's blocks, keeping each in memory while the budget allows (safe to
        call from several threads at once), and the (organisation, month) pairs of its
        rows."""
        with self._lock:
            self._count += 1
            number = self._count
        blocks: list[_Held] = []
        months: set[tuple[Any, Any]] = set()
        for frame in frames:
            if "organisation" in frame.columns and "month" in frame.columns:
                months.update(frame.select("organisation", "month").unique().iter_rows())
            folded = _Folded(frame)
            size = folded.estimated_size()
            with self._lock:
                fits = self.held_bytes + size <= self.in_memory_bytes
                if fits:
                    self.held_bytes += size
                else:
                    self.spilled += 1
            if fits:
                blocks.append(folded)
            else:
                block = self.folder / f"{number}-{len(blocks)}.arrow"
                frame.write_ipc(block, compression="lz4")
                blocks.append(block)
        return blocks, months

    def add(self, path: Path, parsed: tuple[list[_Held], set[tuple[Any, Any]]]) -> None:
        """Record one file's blocks and months (files in the order they were given)."""
        blocks, months = parsed
        self._blocks.setdefault(path, []).append(blocks)
        self.months.append(months)

    def frames(self, path: Path) -> Iterator[pl.DataFrame]:
        """The blocks of one file as the reader yielded them (each handed over once, then let
        go). A file given twice is handed over twice, in the order it was given."""
        blocks = self._blocks[path].pop(0)
        while blocks:
            block = blocks.pop(0)
            if isinstance(block, Path):
                frame = pl.read_ipc(block)
                block.unlink()
            else:
                frame = block.unfold()
            del block
            yield frame


@contextmanager
def parse_first(
    files: Sequence[Path],
    read: Callable[[Path], Iterator[pl.DataFrame]],
    *,
    in_memory_bytes: int | None = None,
) -> Iterator[ParsedFiles]:
    """Read and check every file with ``read`` before anything is written; a bad row or a
    file past the limits raises :class:`ImportRejected` (nothing was written; when several
    files are bad, the first of them in the order given is named). The scratch folder is
    removed afterwards, whatever happens."""
    root = Path(settings.VAR_DIR) / "parsing"
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=root, prefix="import-"))
    try:
        budget = IN_MEMORY_BYTES if in_memory_bytes is None else in_memory_bytes
        parsed = ParsedFiles(folder, budget)
        pool = ThreadPoolExecutor(max_workers=PARSE_THREADS, thread_name_prefix="csp-parse")
        try:
            for path, blocks in zip(
                files, pool.map(lambda p: parsed.parse(p, read(p)), files), strict=True
            ):
                parsed.add(path, blocks)  # blocks and months
        except (readers.RowError, readers.MappingError) as exc:
            raise ImportRejected(f"{exc}. Nothing was imported.") from exc
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        yield parsed
    finally:
        shutil.rmtree(folder, ignore_errors=True)
