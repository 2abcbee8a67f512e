"""Heavy analysis results (hotspots, forecasts, backtests) cached until the data change.

The key holds the newest import batch id, so any import makes every cached result stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db.models import Max

from csp_platform.incidents.models import ImportBatch

T = TypeVar("T")
TIMEOUT_S = 3600


def data_version() -> int:
    return int(ImportBatch.objects.aggregate(v=Max("id"))["v"] or 0)


def cached(parts: list[Any], compute: Callable[[], T]) -> T:
    raw = json.dumps([data_version(), *parts], default=str, sort_keys=True)
    key = "hub:" + hashlib.sha256(raw.encode()).hexdigest()
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, TIMEOUT_S)
    return found  # type: ignore[no-any-return]
