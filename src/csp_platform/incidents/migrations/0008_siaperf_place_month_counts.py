"""Counts behind the SIA's details (issue 8 item 9): incidents per place x month x source
x category x source category, and per ward or district likewise, counted once from the
stored incidents; imports, crosswalk re-maps and relinks keep them from then on."""

import django.db.models.deletion
from django.db import migrations, models


# Existing databases: count the stored incidents once (imports keep the tables after this).
PLACES = (
    "INSERT INTO incidents_placemonthcount (place_id, month, source_id, category_id, "
    "source_category, n) SELECT place_id, month, source_id, category_id, source_category, "
    "COUNT(*) FROM incidents_incident GROUP BY place_id, month, source_id, category_id, "
    "source_category"
)
AREAS = [
    "INSERT INTO incidents_areasubcategorycount (area_id, month, source_id, category_id, "
    f"source_category, n) SELECT {column}, month, source_id, category_id, source_category, "
    f"COUNT(*) FROM incidents_incident WHERE {column} IS NOT NULL GROUP BY {column}, month, "
    "source_id, category_id, source_category"
    for column in ("ward_id", "district_id")
]


class Migration(migrations.Migration):

    dependencies = [
        ('areas', '0001_initial'),
        ('incidents', '0007_h6_ownership_backfill'),
    ]

    operations = [
        migrations.CreateModel(
            name='AreaSubcategoryCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField()),
                ('source_category', models.TextField()),
                ('n', models.PositiveIntegerField()),
                ('area', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='areas.area')),
                ('category', models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, to='incidents.category')),
                ('source', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='incidents.source')),
            ],
            options={
                'indexes': [models.Index(fields=['area', 'month'], name='incidents_a_area_id_eabb70_idx'), models.Index(fields=['source', 'month'], name='incidents_a_source__675b4e_idx')],
            },
        ),
        migrations.CreateModel(
            name='PlaceMonthCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField()),
                ('source_category', models.TextField()),
                ('n', models.PositiveIntegerField()),
                ('category', models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, to='incidents.category')),
                ('place', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='incidents.place')),
                ('source', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='incidents.source')),
            ],
            options={
                'indexes': [models.Index(fields=['place', 'month'], name='incidents_p_place_i_562efd_idx'), models.Index(fields=['source', 'month'], name='incidents_p_source__057bc8_idx')],
            },
        ),
        migrations.RunSQL(PLACES, "DELETE FROM incidents_placemonthcount"),
        migrations.RunSQL(AREAS, "DELETE FROM incidents_areasubcategorycount"),
    ]
