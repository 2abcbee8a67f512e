"""The audit tables are append-only in the database itself: triggers refuse UPDATE and
DELETE of audit events (and TRUNCATE on PostgreSQL), and let the chain's head row move only
forward by one to an event that exists (core/audit.py, docs/audit.md)."""

from django.db import migrations


def create(apps, schema_editor):
    from csp_platform.core.audit import triggers_create

    triggers_create(schema_editor.connection)


def drop(apps, schema_editor):
    from csp_platform.core.audit import triggers_drop

    triggers_drop(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("core", "0003_audit")]

    operations = [migrations.RunPython(create, drop)]
