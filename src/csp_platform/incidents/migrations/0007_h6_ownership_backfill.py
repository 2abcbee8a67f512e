"""Owners for what was stored before ownership: each import batch belongs to its source's
organisation, and a partner scheme's crosswalk versions to the organisation whose sources
use the scheme (when exactly one does; otherwise, and for police.uk, they stay the shared
reference). Sources stay shared (partnership null), as the operator imported them."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def forward(apps: Any, schema_editor: Any) -> None:
    Source = apps.get_model("incidents", "Source")
    ImportBatch = apps.get_model("incidents", "ImportBatch")
    Crosswalk = apps.get_model("incidents", "Crosswalk")
    for source in Source.objects.all():
        ImportBatch.objects.filter(source=source, organisation=None).update(
            organisation_id=source.organisation_id
        )
    for scheme in Crosswalk.objects.values_list("scheme", flat=True).distinct():
        if scheme == "police-uk":
            continue
        owners = set(Source.objects.filter(scheme=scheme).values_list("organisation_id", flat=True))
        if len(owners) == 1:
            Crosswalk.objects.filter(scheme=scheme, organisation=None).update(
                organisation_id=owners.pop()
            )


def backward(apps: Any, schema_editor: Any) -> None:
    apps.get_model("incidents", "Crosswalk").objects.update(organisation=None)
    apps.get_model("incidents", "ImportBatch").objects.update(organisation=None)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0006_h6_ownership")]
    operations = [migrations.RunPython(forward, backward)]
