"""Results cached until the data change: analysis results (ward profiles, SIA, hotspots,
forecasts with their backtests), the quality report and the filter choices.

The key holds the newest import batch (its id and the time it started) and the newest
crosswalk version, so any import, and a crosswalk changed by ``csp crosswalk import`` (which
re-maps stored records without an import batch), makes every cached result stale. Django's
default cache is a folder under ``CSP_VAR_DIR`` shared by every server process
(settings.CACHES), so a ward profile computed by one worker is not computed again by the
others; each process also keeps its most recent results in memory, so a hit does not
unpickle the same value again and again.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache

from csp_platform.incidents.models import Crosswalk, ImportBatch

T = TypeVar("T")
TIMEOUT_S = 3600
IN_MEMORY = 64

_memory: OrderedDict[str, Any] = OrderedDict()
_lock = threading.Lock()


def data_version() -> str:
    newest = ImportBatch.objects.order_by("-id").values_list("id", "started_at").first()
    batch = f"{newest[0]}@{newest[1].isoformat()}" if newest else "empty"
    crosswalk = Crosswalk.objects.order_by("-id").values_list("id", flat=True).first()
    return f"{batch}/crosswalk {crosswalk}"


def cached(parts: list[Any], compute: Callable[[], T]) -> T:
    raw = json.dumps([data_version(), *parts], default=str, sort_keys=True)
    key = "hub:" + hashlib.sha256(raw.encode()).hexdigest()
    with _lock:
        if key in _memory:
            _memory.move_to_end(key)
            return _memory[key]  # type: ignore[no-any-return]
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, TIMEOUT_S)
    with _lock:
        _memory[key] = found
        while len(_memory) > IN_MEMORY:
            _memory.popitem(last=False)
    return found  # type: ignore[no-any-return]


def forget() -> None:
    """Drop every cached result (tests; the shared cache folder as well)."""
    with _lock:
        _memory.clear()
    cache.clear()
