"""What the weekly digest sent: one row per person, partnership and week, so a digest is
never sent twice for the same week to the same person (docs/plans-at-risk.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DigestSent(models.Model):
    """A weekly digest sent to one person (``week`` is the Monday, Europe/London)."""

    partnership = models.ForeignKey("core.Partnership", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    week = models.DateField(help_text="The Monday of the week the digest is for.")
    email = models.EmailField()
    actions = models.JSONField(default=list, help_text="UUIDs of the actions it listed.")
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-week", "partnership", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["partnership", "user", "week"], name="digest_once_per_week"
            )
        ]

    def __str__(self) -> str:
        return f"{self.week}: {self.email}"
