"""Array types and helpers shared by the analytics modules (private)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def readonly(a: NDArray[Any]) -> NDArray[Any]:
    """Mark an array held by a frozen result as read-only (and return it)."""
    a.setflags(write=False)
    return a
