"""Partner organisations (agencies) and partnerships.

Users, roles and permissions arrive with the web hub; the shapes here are the ones they will
hang from: every incident source belongs to an organisation, and a partnership is a set of
organisations over a set of districts.
"""

from __future__ import annotations

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
