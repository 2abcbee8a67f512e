"""Shared test settings: where the real data in ../shared lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CSP_SHARED", ROOT.parent / "shared")).resolve()
DATA = SHARED / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(
            f"the real data folder {DATA} is missing: put ../shared beside the repo "
            "or set CSP_SHARED"
        )
    return DATA
