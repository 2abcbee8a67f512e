"""Export records become audit disclosure events, in their order, on the hash chain.

Each ExportRecord keeps its time, user, organisation, role, route and address; what was
exported (kind, filters, rows, point level) goes into the event's detail, and the partnership
is copied by id and slug. The chain's head row is created here (the genesis, if there was
nothing to move)."""

from django.db import migrations

GENESIS = "0" * 64


def _target(parameters, slug):
    area = parameters.get("area") if isinstance(parameters, dict) else None
    return ("area", str(area)) if area else ("partnership", slug)


def forward(apps, schema_editor):
    from csp_platform.core.audit import _canonical, event_hash

    ExportRecord = apps.get_model("core", "ExportRecord")
    AuditEvent = apps.get_model("core", "AuditEvent")
    AuditHead = apps.get_model("core", "AuditHead")
    Partnership = apps.get_model("core", "Partnership")
    slugs = dict(Partnership.objects.values_list("id", "slug"))
    head = AuditHead.objects.filter(pk=1).first() or AuditHead.objects.create(
        pk=1, seq=0, hash=GENESIS
    )
    seq, prev = head.seq, head.hash
    for r in ExportRecord.objects.order_by("created_at", "id").iterator():
        slug = slugs.get(r.partnership_id, "")
        target_type, target_id = _target(r.parameters, slug)
        seq += 1
        row = {
            "seq": seq,
            "at": r.created_at,
            "actor_id": r.user_id,
            "actor": r.username,
            "partnership_id": r.partnership_id,
            "partnership": slug,
            "organisation": r.organisation,
            "role": r.role,
            "action": "disclosure",
            "target_type": target_type,
            "target_id": target_id[:120],
            "recipient": f"{r.username} ({r.organisation})"[:300],
            "before": None,
            "after": None,
            "detail": _canonical(
                {
                    "kind": r.kind,
                    "parameters": r.parameters,
                    "rows": r.rows,
                    "point_level": r.point_level,
                    "moved_from": f"export record {r.id}",
                }
            ),
            "purpose": "",
            "route": r.route,
            "ip": r.ip,
            "prev_hash": prev,
        }
        prev = event_hash(row)
        AuditEvent.objects.create(**row, hash=prev)
        AuditHead.objects.filter(pk=1).update(seq=seq, hash=prev)


class Migration(migrations.Migration):
    dependencies = [("core", "0004_audit_triggers")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
