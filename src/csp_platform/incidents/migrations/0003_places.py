# Places: the location fields of incidents move to their own table (docs/decisions/0005-places.md).
# Stored incidents keep their locations: each distinct set of location fields becomes a place.

import django.db.models.deletion
from django.db import migrations, models

import csp_platform.incidents.models
from csp_platform.incidents.places import PLACE_FIELDS, place_key

LINKS = ("lsoa_id", "ward_id", "district_id")
CHUNK = 50_000


def places_from_incidents(apps, schema_editor):
    connection = schema_editor.connection
    Place = apps.get_model("incidents", "Place")
    columns = ", ".join(PLACE_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT {columns}, {', '.join(LINKS)} FROM incidents_incident")
        found = {}
        for row in cursor.fetchall():
            found.setdefault(tuple(row[: len(PLACE_FIELDS)]), row[len(PLACE_FIELDS) :])
        ids = {fields: number for number, fields in enumerate(found, start=1)}
        Place.objects.bulk_create(
            [
                Place(
                    id=ids[fields],
                    key=place_key(fields),
                    **dict(zip(PLACE_FIELDS, fields)),
                    **dict(zip(LINKS, links)),
                )
                for fields, links in found.items()
            ],
            batch_size=2_000,
        )
        cursor.execute(f"SELECT id, {columns} FROM incidents_incident")
        while rows := cursor.fetchmany(CHUNK):
            with connection.cursor() as update:
                update.executemany(
                    "UPDATE incidents_incident SET place_id = %s WHERE id = %s",
                    [(ids[tuple(r[1:])], r[0]) for r in rows],
                )
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('incidents_place', 'id'), %s, false)",
                [len(ids) + 1],
            )


def incidents_from_places(apps, schema_editor):
    sets = ", ".join(f"{c} = p.{c}" for c in (*PLACE_FIELDS, "lsoa_id"))
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE incidents_incident SET {sets} FROM incidents_place AS p "
            "WHERE p.id = incidents_incident.place_id"
        )


def _area_link():
    return models.ForeignKey(
        blank=True,
        db_constraint=False,
        db_index=False,
        null=True,
        on_delete=django.db.models.deletion.SET_NULL,
        related_name="+",
        to="areas.area",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("areas", "0001_initial"),
        ("incidents", "0002_lean_incident_table"),
    ]

    operations = [
        migrations.CreateModel(
            name="Place",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=32, unique=True)),
                (
                    "location_precision",
                    models.CharField(
                        choices=[
                            ("none", "No location"),
                            ("snap", "Anonymised map point (police.uk)"),
                            ("exact", "As recorded"),
                            ("rounded", "Rounded grid reference"),
                        ],
                        max_length=8,
                    ),
                ),
                ("lon", models.FloatField(blank=True, null=True)),
                ("lat", models.FloatField(blank=True, null=True)),
                ("easting", models.FloatField(blank=True, null=True)),
                ("northing", models.FloatField(blank=True, null=True)),
                ("location_text", models.TextField(blank=True)),
                ("lsoa_given", models.TextField(blank=True)),
                *[(name, _area_link()) for name in ("district", "lsoa", "ward")],
            ],
        ),
        migrations.AddField(
            model_name="incident",
            name="place",
            field=models.ForeignKey(
                null=True,
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="incidents",
                to="incidents.place",
            ),
        ),
        migrations.RunPython(places_from_incidents, incidents_from_places),
        migrations.AlterField(
            model_name="incident",
            name="place",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="incidents",
                to="incidents.place",
            ),
        ),
        # A default, so that reversing the removal can add the column back to filled rows.
        migrations.AlterField(
            model_name="incident",
            name="location_precision",
            field=models.CharField(
                choices=[
                    ("none", "No location"),
                    ("snap", "Anonymised map point (police.uk)"),
                    ("exact", "As recorded"),
                    ("rounded", "Rounded grid reference"),
                ],
                default="none",
                max_length=8,
            ),
        ),
        *[
            migrations.RemoveField(model_name="incident", name=name)
            for name in (
                "lon",
                "lat",
                "easting",
                "northing",
                "location_precision",
                "location_text",
                "lsoa_given",
                "lsoa",
            )
        ],
        migrations.AlterField(
            model_name="incident",
            name="id",
            field=csp_platform.incidents.models.RowIdField(primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name="incident",
            name="date_precision",
            field=models.CharField(
                choices=[("month", "Month"), ("day", "Day"), ("minute", "Date and time")],
                db_default="month",
                default="month",
                max_length=8,
            ),
        ),
    ]
