"""Grid cells (British National Grid squares) as WGS84 GeoJSON for the maps.

Cells arrive as south-west corners in EPSG:27700 metres with a side length; each becomes a
polygon of its four corners transformed to WGS84 (:func:`csp_analytics.geo.to_wgs84`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from csp_analytics.geo import to_wgs84


def squares(
    easting: Sequence[float] | npt.NDArray[np.float64],
    northing: Sequence[float] | npt.NDArray[np.float64],
    size: float,
    properties: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """A FeatureCollection of squares with the given properties, one per corner."""
    e = np.asarray(easting, dtype=float)
    n = np.asarray(northing, dtype=float)
    if e.size == 0:
        return {"type": "FeatureCollection", "features": []}
    xs = np.concatenate([e, e + size, e + size, e])
    ys = np.concatenate([n, n, n + size, n + size])
    lon, lat = to_wgs84(xs, ys)
    k = e.size
    features = []
    for i in range(k):
        ring = [
            [round(float(lon[i + j * k]), 6), round(float(lat[i + j * k]), 6)] for j in range(4)
        ]
        ring.append(ring[0])
        features.append(
            {
                "type": "Feature",
                "properties": properties[i],
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


# ColorBrewer YlOrRd (sequential, colour-blind safe), light to dark: kept apart from the
# wards' viridis so the two layers never read as one scale.
YLORRD_5 = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")


def hotspot_features(cells: Sequence[Any], size: float, method: str) -> dict[str, Any]:
    """The hot cells of a hotspot report as coloured squares.

    Kernel density: cells at 20% of the peak density or more, in five equal bands of the
    peak. Gi*: the cells flagged hot (Benjamini-Hochberg adjusted), one colour.
    """
    if method == "kde":
        peak = max((c.value for c in cells), default=0.0)
        kept = [c for c in cells if peak > 0 and c.value >= 0.2 * peak]
        props = []
        for c in kept:
            band = min(4, int(5 * c.value / peak)) if peak else 0
            props.append(
                {
                    "key": c.key,
                    "value": round(c.value, 2),
                    "incidents": c.count,
                    "fill": YLORRD_5[band],
                    "label": f"{c.value:,.1f} incidents per km² ({c.count} in the cell)",
                }
            )
    else:
        kept = [c for c in cells if c.hot]
        props = [
            {
                "key": c.key,
                "value": c.count,
                "incidents": c.count,
                "fill": YLORRD_5[4],
                "label": f"Hotspot (Gi* z = {c.z:.2f}); {c.count} incidents in the cell",
            }
            for c in kept
        ]
    return squares([c.easting for c in kept], [c.northing for c in kept], size, props)
