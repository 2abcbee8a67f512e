"""Incidents per place x month x source x category (issue 8 item 9), counted once from the
stored incidents; imports and crosswalk re-maps keep it from then on."""

import django.db.models.deletion
from django.db import migrations, models

# Existing databases: count the stored incidents once (imports keep the table after this).
BACKFILL = (
    "INSERT INTO incidents_placemonthcount (place_id, month, source_id, category_id, "
    "source_category, n) SELECT place_id, month, source_id, category_id, source_category, "
    "COUNT(*) FROM incidents_incident GROUP BY place_id, month, source_id, category_id, "
    "source_category"
)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0007_h6_ownership_backfill"),
    ]

    operations = [
        migrations.CreateModel(
            name="PlaceMonthCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.DateField()),
                ("source_category", models.TextField()),
                ("n", models.PositiveIntegerField()),
                (
                    "category",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="incidents.category",
                    ),
                ),
                (
                    "place",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="incidents.place",
                    ),
                ),
                (
                    "source",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="incidents.source",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["place", "month"], name="incidents_p_place_i_562efd_idx"),
                    models.Index(fields=["source", "month"], name="incidents_p_source__057bc8_idx"),
                ],
            },
        ),
        migrations.RunSQL(BACKFILL, "DELETE FROM incidents_placemonthcount"),
    ]
