"""The incidents app's resources, declared for core/policy.py (found at start-up).

``incident_points``: a partnership's incidents at published (police.uk snap) map points, the
first restricted data the policy covers: the hub's point layer (``view``) and its CSV
(``export``). Both are read through ``hub.selectors.points_for``, which asks the policy.
"""

from __future__ import annotations

from csp_platform.core.models import DataClass
from csp_platform.core.permissions import Perm
from csp_platform.core.policy import Policy, register, roles_with

INCIDENT_POINTS = register(
    Policy(
        resource="incident_points",
        data_class=DataClass.INCIDENT_POINTS,
        actions={"view": roles_with(Perm.VIEW_POINTS), "export": roles_with(Perm.EXPORT_POINTS)},
        grant_actions=frozenset(),
        partnership_field="pk",
        public_id_field="slug",
    )
)
