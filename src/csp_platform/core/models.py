"""Partner organisations (agencies), partnerships, and who may see what.

Every incident source belongs to an organisation, and a partnership is a set of
organisations over a set of districts. A user belongs to a partnership through a
:class:`Membership`, which names their organisation and their role; what each role may do is
the table in ``core/permissions.py`` (docs/access-control.md). Exports are recorded in
:class:`ExportRecord`, written only by ``core.services.export_record``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class Organisation(models.Model):
    """A partner agency: a police force, a council, a fire and rescue service, ..."""

    class Kind(models.TextChoices):
        POLICE = "police", "Police"
        COUNCIL = "council", "Local authority"
        FIRE = "fire", "Fire and rescue"
        HEALTH = "health", "Health"
        PROBATION = "probation", "Probation"
        HOUSING = "housing", "Housing provider"
        OTHER = "other", "Other"

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Partnership(models.Model):
    """A Community Safety Partnership: its member organisations and the districts it covers."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    organisations = models.ManyToManyField(Organisation, related_name="partnerships", blank=True)
    districts = models.ManyToManyField("areas.Area", related_name="partnerships", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    """A member's role in a partnership; permissions.ROLE_PERMISSIONS says what each may do."""

    ANALYST = "analyst", "Analyst"
    PARTNER_OFFICER = "partner_officer", "Partner officer"
    PARTNERSHIP_MANAGER = "partnership_manager", "Partnership manager"
    COUNCILLOR = "councillor", "Councillor"
    DATA_MANAGER = "data_manager", "Data manager"
    ADMINISTRATOR = "administrator", "Administrator"


class Membership(models.Model):
    """A user's place in one partnership: the organisation they work for and their role."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    partnership = models.ForeignKey(
        Partnership, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=24, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["partnership__name", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "partnership"], name="membership_one_per_partnership"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.organisation}) in {self.partnership}"


class AppendOnly(Exception):
    """Audit rows are never changed or deleted through the application."""


class ExportRecord(models.Model):
    """One export (a CSV download): who, in which role and partnership, what, when (UTC).

    Append-only: written by ``core.services.export_record``; saving an existing row or
    deleting one raises :class:`AppendOnly`.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150)
    partnership = models.ForeignKey(
        Partnership, null=True, on_delete=models.SET_NULL, related_name="exports"
    )
    organisation = models.CharField(max_length=200)
    role = models.CharField(max_length=24, choices=Role.choices)
    kind = models.CharField(max_length=40, help_text="What was exported, e.g. 'wards'.")
    point_level = models.BooleanField(default=False)
    parameters = models.JSONField(default=dict, help_text="The filters of the export.")
    rows = models.PositiveIntegerField()
    route = models.CharField(max_length=500)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.username}: {self.kind} ({self.rows} rows), {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnly("export records cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("export records cannot be deleted")


class SignInThrottle(models.Model):
    """Failed sign-ins per username (known or not), for the pause after too many.

    Keyed on the lower-cased username the person typed, so an unknown username is paused
    exactly like a known one and the answers never tell them apart.
    """

    username = models.CharField(max_length=150, unique=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.username}: {self.failures} failures"
