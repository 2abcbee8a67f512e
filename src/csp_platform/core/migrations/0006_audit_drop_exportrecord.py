"""Export records now live in the audit table (0005 moved them): the old table goes."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("core", "0005_audit_exports")]

    operations = [migrations.DeleteModel(name="ExportRecord")]
