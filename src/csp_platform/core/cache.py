"""The one cache of results (analysis results, hub figures, the quality report, the filter
choices): keyed by the audience and by the data, so no reader ever sees another's figures
and no write leaves a stale one.

* **Audience.** Every key carries the audience the value was computed for
  (:attr:`csp_platform.incidents.scope.Access.audience`: the partnership and the role, or
  ``all`` for the command line and for values that are the same for everyone), so a
  result computed for one partnership or role is never served to another.
* **Data.** Every key carries :func:`data_version`, a stamp of every write that changes a
  figure: the newest import batch (incident and aggregate imports, and the crosswalk
  re-mapping they run), the newest crosswalk, and the areas' newest import time and count
  (area imports, which also re-link incidents, and population imports, which stamp the
  areas they change). Any such write makes every cached result stale at once.

Django's default cache is a folder under ``CSP_VAR_DIR`` shared by every server process
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

from django.apps import apps
from django.core.cache import cache
from django.db.models import Count, Max

T = TypeVar("T")
TIMEOUT_S = 3600
IN_MEMORY = 64
EVERYONE = "all"

_memory: OrderedDict[str, Any] = OrderedDict()
_lock = threading.Lock()


def data_version() -> str:
    """A stamp that changes with every write that changes a figure."""
    batch = apps.get_model("incidents", "ImportBatch")
    crosswalk = apps.get_model("incidents", "Crosswalk")
    area = apps.get_model("areas", "Area")
    newest = batch.objects.order_by("-id").values_list("id", "started_at").first()
    walks = crosswalk.objects.aggregate(n=Count("id"), last=Max("id"))
    areas = area.objects.aggregate(n=Count("id"), last=Max("imported_at"))
    parts = [
        f"{newest[0]}@{newest[1].isoformat()}" if newest else "no-imports",
        f"crosswalks={walks['n']}:{walks['last']}",
        f"areas={areas['n']}@{areas['last'].isoformat() if areas['last'] else '-'}",
    ]
    return ";".join(parts)


def cached(parts: list[Any], compute: Callable[[], T], *, audience: str) -> T:
    """``compute()``, or the value stored for the same parts, audience and data."""
    raw = json.dumps([data_version(), audience, *parts], default=str, sort_keys=True)
    key = "csp:" + hashlib.sha256(raw.encode()).hexdigest()
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
