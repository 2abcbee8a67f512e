"""What every page's header needs: the user's partnerships and what they may do here."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from csp_platform.core import permissions, selectors


def hub(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "memberships": list(selectors.membership_list_for(request.user)),
        "membership": membership,
        "can": {p.name: True for p in permissions.allowed(membership)} if membership else {},
    }
