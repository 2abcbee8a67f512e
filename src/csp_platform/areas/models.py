"""Areas: wards (by boundary generation), LSOAs, MSOAs, districts and custom areas."""

from __future__ import annotations

from django.db import models


class Area(models.Model):
    """One polygon of one level and boundary generation.

    Wards are redrawn (Middlesbrough 2015, Redcar & Cleveland and Stockton 2019), so a ward is
    identified by its code *and* its generation, and every ward figure names its generation.
    Geometry is kept as WKB in WGS84 with its bounding box; point-in-polygon is done in the
    application with shapely (docs/decisions/0002-geometry-without-spatial-extension.md).
    """

    class Level(models.TextChoices):
        WARD = "ward", "Ward"
        LSOA = "lsoa", "LSOA"
        MSOA = "msoa", "MSOA"
        DISTRICT = "district", "District"
        CUSTOM = "custom", "Custom area"

    level = models.CharField(max_length=10, choices=Level.choices)
    code = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    generation = models.CharField(
        max_length=40, help_text="Boundary generation, e.g. '2013' for WD13 wards."
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The district this area lies in, where the data say so.",
    )
    geometry_wkb = models.BinaryField()
    min_lon = models.FloatField()
    min_lat = models.FloatField()
    max_lon = models.FloatField()
    max_lat = models.FloatField()
    population = models.IntegerField(null=True, blank=True)
    population_source = models.CharField(max_length=200, blank=True)
    source_file = models.CharField(max_length=500, blank=True)
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["level", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["level", "code", "generation"], name="area_unique_code_per_generation"
            )
        ]
        indexes = [models.Index(fields=["level", "generation"]), models.Index(fields=["code"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_level_display()} {self.code}, {self.generation})"
