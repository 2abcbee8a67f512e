"""The hostile files of issue 9 (item 2), built as the penetration test built them, and a way to
run a reader on one in a fresh interpreter, timed and with its peak memory.

Each file is small on disk and large, deep or slow once read:

* :func:`long_line_gz`: a police.uk ``.csv.gz`` whose second line is 256 MB (254 KB on disk);
* :func:`xlsx_one_huge_string`: an XLSX whose shared-string table holds one 64 MB string;
* :func:`billion_laughs`: a YAML mapping whose nested aliases expand to about 80 MB;
* :func:`quoted_newlines_gz`: a ``.csv.gz`` with 3,000 line breaks inside one quoted field;
* a mapping with ``date_from_filename: '(a+)+b'`` and a file named by ``a``s (no builder).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

POLICE_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)
POLICE_ROW = (
    ",2018-10,Cleveland Police,Cleveland Police,-1.2,54.57,On or near Albert Road,E01012068,"
    "Middlesbrough 011A,Anti-social behaviour,,"
)
MB = 1024 * 1024


def long_line_gz(path: Path, mb: int = 256) -> Path:
    """A police.uk header, one good row, then one line of ``mb`` MB (no line break)."""
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(f"{POLICE_HEADER}\n{POLICE_ROW}\n".encode())
        out.write(b",2018-10,Cleveland Police,Cleveland Police,-1.2,54.57,")
        piece = b"A" * MB
        for _ in range(mb):
            out.write(piece)
        out.write(b",E01012068,x,Anti-social behaviour,,\n")
    return path


def quoted_newlines_gz(path: Path, newlines: int = 3_000, width: int = 12_000) -> Path:
    """A police.uk file whose second row's Location is one quoted field of ``newlines``
    line breaks, ``width`` bytes apart (36 MB with the defaults, about 40 KB compressed)."""
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(f"{POLICE_HEADER}\n{POLICE_ROW}\n".encode())
        out.write(b',2018-10,Cleveland Police,Cleveland Police,-1.2,54.57,"')
        line = b"B" * width + b"\n"
        for _ in range(newlines):
            out.write(line)
        out.write(b'",E01012068,x,Anti-social behaviour,,\n')
        out.write(f"{POLICE_ROW}\n".encode())
    return path


_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def xlsx_one_huge_string(path: Path, mb: int = 64) -> Path:
    """A two-column sheet (Date, Category) of two rows whose second row's category is a
    shared string of ``mb`` MB (about 65 KB on disk with the default)."""
    parts = {
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{_PKG}/content-types">'
            f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            f'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{_PKG}/relationships"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{_PKG}/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{_NS}"><sheetData>'
            '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
            '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>'
            '<row r="3"><c r="A3" t="s"><v>2</v></c><c r="B3" t="s"><v>4</v></c></row>'
            "</sheetData></worksheet>"
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        for name, text in parts.items():
            book.writestr(name, text)
        with book.open("xl/sharedStrings.xml", "w", force_zip64=True) as out:
            out.write(
                f'<sst xmlns="{_NS}" count="5" uniqueCount="5"><si><t>Date</t></si>'
                "<si><t>Category</t></si><si><t>2024-01-05</t></si><si><t>".encode()
            )
            piece = b"C" * MB
            for _ in range(mb):
                out.write(piece)
            out.write(b"</t></si><si><t>Fly-tipping</t></si></sst>")
    return path


def small_mapping(**extra: object) -> dict[str, object]:
    """A valid mapping for a two-column partner file (Date, Category)."""
    mapping: dict[str, object] = {
        "source": {"code": "hostile-test", "name": "Hostile test", "organisation": "Test Council"},
        "kind": "incidents",
        "scheme": "hostile-test",
        "columns": {"category": "Category", "date": "Date"},
        "date_format": "%Y-%m-%d",
    }
    mapping.update(extra)
    return mapping


def write_mapping(path: Path, mapping: dict[str, object], tail: str = "") -> Path:
    """The mapping as YAML (JSON is YAML), with ``tail`` appended as it is."""
    path.write_text(json.dumps(mapping) + "\n" + tail, encoding="utf-8")
    return path


def billion_laughs(path: Path) -> Path:
    """A valid mapping plus seven levels of nested aliases, ten to a level: 10**7 references
    to one string, about 70 MB once written out as JSON (the penetration test's 575-byte
    file was stored as 80 MB of JSON with the import batch)."""
    lines = ["a: &a [" + ",".join(["lol"] * 10) + "]"]
    for level in "bcdefg":
        prev = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ",".join([f"*{prev}"] * 10) + "]")
    data = small_mapping()
    text = "\n".join(f"{k}: {json.dumps(v)}" for k, v in data.items())
    path.write_text(text + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Measured:
    """A command run in a fresh process: its exit code, output, wall time and peak memory."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


# The peak is the kernel's high-water mark of this process's own memory (VmHWM). getrusage's
# ru_maxrss is not used where /proc is: on Linux it carries over the parent's resident size
# at fork through exec, so a test process that has grown would inflate every child's figure.
_MEASURE = """
import resource, sys
code = sys.argv[1]
sys.argv = sys.argv[1:]

def peak_mb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

try:
    exec(compile(code, "<measured>", "exec"), {"__name__": "__main__"})
finally:
    sys.stderr.write(f"\\nPEAK_MB={peak_mb():.0f}\\n")
"""


def run_measured(
    code: str, *args: str, timeout: float, env: dict[str, str] | None = None
) -> Measured:
    """Run ``code`` (Python, with ``args`` as sys.argv[1:]) in a fresh interpreter; its peak
    resident memory (measured in the process itself) and wall time. A run past ``timeout``
    seconds is killed and reported as such (returncode -9, seconds = timeout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _MEASURE, code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env if env is not None else dict(os.environ),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return Measured(-9, out, err + f"\n(killed after {timeout} s)", timeout, float("nan"))
    seconds = time.perf_counter() - started
    peak = float("nan")
    if "PEAK_MB=" in err:
        head, _, tail = err.rpartition("PEAK_MB=")
        number, _, rest = tail.partition("\n")
        err, peak = head + rest, float(number)
    return Measured(proc.returncode, out, err, seconds, peak)
