"""Sign-in limits, on django-axes, and the second factor's rules.

Limits (docs/access-control.md):

- per user name from one address: ``CSP_SIGN_IN_MAX_FAILURES`` failures pause that user name
  from that address for ``CSP_SIGN_IN_LOCK_MINUTES``;
- per address, whatever the user names: ``CSP_SIGN_IN_MAX_FAILURES_PER_ADDRESS`` failures
  pause every sign-in from that address (one password sprayed over many user names).

No limit is per user name alone, so nobody can pause a user's sign-in from the user's own
address. Unknown user names count exactly like known ones, so the answers never tell them
apart. Failures are counted atomically: :func:`checked_one_at_a_time` holds a lock per
address around the check, the password test and the recording of a failure, so parallel
attempts cannot all pass the check before any failure is counted.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse

_LOCK_NAMESPACE = 0x5347  # "SG": PostgreSQL advisory locks of sign-in


def username_key(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The user name as counted: stripped and lower-cased (``Analyst`` is ``analyst``)."""
    raw = (credentials or {}).get("username") or request.POST.get("username") or ""
    return str(raw).strip().lower()[:150]


class SignInLimits(AxesDatabaseHandler):  # type: ignore[misc]
    """axes' database handler with a limit per (user name, address) and one per address."""

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """Failures in the units of axes' limit (``CSP_SIGN_IN_MAX_FAILURES``): the
        address's own limit, when reached, counts as the whole limit."""
        per_name, per_address = (
            qs.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for qs in self.get_user_attempts(request, credentials)
        )
        if per_address >= settings.CSP_SIGN_IN_MAX_FAILURES_PER_ADDRESS:
            return max(per_name, settings.CSP_SIGN_IN_MAX_FAILURES)
        return int(per_name)

    def reset_user_attempts(
        self, request: HttpRequest, credentials: dict[str, Any] | None = None
    ) -> int:
        """A success forgets that user name's failures from that address only: signing in to
        one's own account does not reset the address's count (or a sprayer would)."""
        username = get_client_username(request, credentials)
        deleted, _ = AccessAttempt.objects.filter(
            username=username, ip_address=request.axes_ip_address  # type: ignore[attr-defined]
        ).delete()
        return int(deleted)


def _lock_key(address: str) -> int:
    value = zlib.crc32(address.encode())
    return value - 2**32 if value >= 2**31 else value


@contextmanager
def checked_one_at_a_time(address: str | None) -> Iterator[None]:
    """Attempts from one address are checked one after another.

    PostgreSQL: a transaction-level advisory lock on the address. SQLite: the transaction
    starts with ``BEGIN IMMEDIATE`` (settings), which takes the database's write lock.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)",
                    [_LOCK_NAMESPACE, _lock_key(address or "")],
                )
        yield


def paused_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any = None
) -> HttpResponse:
    """axes' answer for a paused sign-in: our own sign-in page already says so."""
    if original_response is not None:
        return original_response
    from csp_platform.core.views import paused_page

    return paused_page(request)


# ----------------------------------------------------------------------------------------
# The second factor


def second_factor_required(user: Any) -> bool:
    """A second factor is required for every role that can see restricted (point-level)
    data, and for staff and superusers (the admin site)."""
    from csp_platform.core.models import Membership
    from csp_platform.core.permissions import Perm, role_allows

    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    roles = set(Membership.objects.filter(user_id=user.pk).values_list("role", flat=True))
    return any(
        role_allows(role, perm) for role in roles for perm in (Perm.VIEW_POINTS, Perm.EXPORT_POINTS)
    )
