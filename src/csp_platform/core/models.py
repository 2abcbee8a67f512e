"""Partner organisations (agencies), partnerships, and who may see what.

Every incident source belongs to an organisation, and a partnership is a set of
organisations over a set of districts. A user belongs to a partnership through a
:class:`Membership`, which names their organisation and their role; what each role may do is
the table in ``core/permissions.py`` (docs/access-control.md). Every consultation,
disclosure (export) and change of restricted data is an :class:`AuditEvent`, written only by
``core.audit.record`` and append-only in the database itself (docs/audit.md).
Information-sharing agreements are data (:class:`SharingAgreement`).
"""

from __future__ import annotations

import uuid

from django.conf import settings
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


class Role(models.TextChoices):
    """A member's role in a partnership; permissions.ROLE_PERMISSIONS says what each may do."""

    ANALYST = "analyst", "Analyst"
    PARTNER_OFFICER = "partner_officer", "Partner officer"
    PARTNERSHIP_MANAGER = "partnership_manager", "Partnership manager"
    COUNCILLOR = "councillor", "Councillor"
    DATA_MANAGER = "data_manager", "Data manager"
    ADMINISTRATOR = "administrator", "Administrator"
    AUDITOR = "auditor", "Auditor"


class Membership(models.Model):
    """A user's place in one partnership: the organisation they work for and their role."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    partnership = models.ForeignKey(
        Partnership, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=24, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["partnership__name", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "partnership"], name="membership_one_per_partnership"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.organisation}) in {self.partnership}"


class AuditAction(models.TextChoices):
    """What happened: DPA 2018 s.62(1)'s operations, plus sign-in events."""

    COLLECTION = "collection", "Collection"
    ALTERATION = "alteration", "Alteration"
    CONSULTATION = "consultation", "Consultation"
    DISCLOSURE = "disclosure", "Disclosure"
    COMBINATION = "combination", "Combination"
    ERASURE = "erasure", "Erasure"
    SIGN_IN = "sign_in", "Sign-in"
    SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
    SIGN_OUT = "sign_out", "Sign-out"


class AuditEvent(models.Model):
    """One audited event: who (user, organisation, role, partnership), when (UTC), what
    (action, target, before and after, recipient), where from (route, client address), why
    (purpose), and its place in the hash chain.

    Append-only in the database: triggers refuse UPDATE and DELETE on both engines
    (migration 0004). The people and partnerships are copied as ids and names, with no
    foreign keys, so deleting a user or a partnership changes no audit row.
    ``hash`` = SHA-256 of the row's content and ``prev_hash`` (core.audit.event_hash).
    """

    seq = models.BigIntegerField(unique=True, help_text="Position in the hash chain, from 1.")
    at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor = models.CharField(max_length=150, blank=True, help_text="The username, as it was.")
    partnership_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    partnership = models.CharField(max_length=80, blank=True, help_text="The partnership slug.")
    organisation = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=24, blank=True)
    action = models.CharField(max_length=20, choices=AuditAction.choices, db_index=True)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=120, blank=True)
    recipient = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    purpose = models.CharField(max_length=500, blank=True)
    route = models.CharField(max_length=500, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.at:%Y-%m-%d %H:%M} {self.actor or '-'} {self.action}"

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role in Role.values else self.role


class AuditHead(models.Model):
    """The single row (id 1) naming the chain's last event: appends lock it, so they are
    serialised, and a trigger lets it only move forward by one to an event that exists, so
    a deleted tail is detected by ``csp audit verify``."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"audit head #{self.seq}"


class DataClass(models.TextChoices):
    """Classes of data an information-sharing agreement covers."""

    INCIDENT_AGGREGATES = "incident_aggregates", "Incident counts and rates"
    INCIDENT_POINTS = "incident_points", "Incidents at published map points"
    INCIDENT_RECORDS = "incident_records", "Incident records"
    PERSONAL = "personal", "Personal data"
    SPECIAL_CATEGORY = "special_category", "Special category data"
    CRIMINAL_OFFENCE = "criminal_offence", "Criminal offence data"


class LegalBasis(models.TextChoices):
    """The statutory power to share."""

    CDA_1998_S115 = "cda_1998_s115", "Crime and Disorder Act 1998, s.115"
    CDA_1998_S17A = "cda_1998_s17a", "Crime and Disorder Act 1998, s.17A"


class ProcessingCondition(models.TextChoices):
    """The data-protection condition the sharing relies on."""

    GDPR_6_1_C = "uk_gdpr_6_1_c", "UK GDPR Art 6(1)(c): legal obligation"
    GDPR_6_1_E = "uk_gdpr_6_1_e", "UK GDPR Art 6(1)(e): public task"
    GDPR_9_2_G = "uk_gdpr_9_2_g", "UK GDPR Art 9(2)(g): substantial public interest"
    GDPR_10 = "uk_gdpr_10", "UK GDPR Art 10 with DPA 2018 Sch 1 Part 2"
    DPA_PART3_S35 = "dpa_2018_s35", "DPA 2018 Part 3, s.35: law enforcement processing"
    DPA_PART3_S35_SENSITIVE = "dpa_2018_s35_8", "DPA 2018 Part 3, s.35(8) and Sch 8"


class SharingAgreement(models.Model):
    """An information-sharing agreement (ISA) between partner organisations.

    Sharing outside an active agreement is refused by ``core.services.isa_check``. Written
    only through the services (``isa_create``, ``isa_update``), each change audited.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        ENDED = "ended", "Ended"

    reference = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    partnership = models.ForeignKey(
        Partnership, on_delete=models.PROTECT, related_name="agreements"
    )
    parties = models.ManyToManyField(Organisation, related_name="agreements")
    purposes = models.JSONField(default=list, help_text="Purposes, as short phrases.")
    data_classes = models.JSONField(default=list, help_text="DataClass values.")
    legal_bases = models.JSONField(default=list, help_text="LegalBasis values.")
    conditions = models.JSONField(default=list, help_text="ProcessingCondition values.")
    start = models.DateField()
    review = models.DateField()
    end = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["review", "reference"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(review__gte=models.F("start")), name="isa_review_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(end__gte=models.F("start")),
                name="isa_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.title}"

    @property
    def data_class_labels(self) -> list[str]:
        return [DataClass(v).label if v in DataClass.values else v for v in self.data_classes]

    @property
    def legal_basis_labels(self) -> list[str]:
        return [LegalBasis(v).label if v in LegalBasis.values else v for v in self.legal_bases]

    @property
    def condition_labels(self) -> list[str]:
        choices = ProcessingCondition
        return [choices(v).label if v in choices.values else v for v in self.conditions]


class Panel(models.Model):
    """A multi-agency panel of a partnership (PSG, HRAP, VEMT, MARAC): named users who may
    be granted records (core/policy.py). Its public identifier is a random UUID."""

    class Kind(models.TextChoices):
        PSG = "psg", "Problem Solving Group"
        HRAP = "hrap", "High Risk ASB Panel"
        VEMT = "vemt", "Vulnerable, Exploited, Missing and Trafficked"
        MARAC = "marac", "Multi-Agency Risk Assessment Conference"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partnership = models.ForeignKey(Partnership, on_delete=models.CASCADE, related_name="panels")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="panels", blank=True)

    class Meta:
        ordering = ["partnership__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["partnership", "name"], name="panel_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class Grant(models.Model):
    """A record shared with an organisation, a panel or a named user, under an active
    information-sharing agreement and until an expiry (core/policy.py). Written only by
    ``core.services.grant_create`` and ``grant_revoke``, each audited; never deleted (a
    revoked grant keeps its ``revoked_at``)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    target_type = models.CharField(max_length=60)  # a declared policy's resource name
    target_id = models.CharField(max_length=120)  # the record's public (random) identifier
    owner = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="grants_made"
    )  # the organisation that shares it (s.115: its decision)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="grants"
    )
    panel = models.ForeignKey(
        Panel, null=True, blank=True, on_delete=models.PROTECT, related_name="grants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="grants",
    )
    agreement = models.ForeignKey(
        SharingAgreement, on_delete=models.PROTECT, related_name="grants"
    )
    data_class = models.CharField(max_length=30, choices=DataClass.choices)
    purpose = models.CharField(max_length=200)
    expires_at = models.DateTimeField()
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="grants_given",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="grant_target")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(organisation__isnull=False, panel__isnull=True, user__isnull=True)
                    | models.Q(organisation__isnull=True, panel__isnull=False, user__isnull=True)
                    | models.Q(organisation__isnull=True, panel__isnull=True, user__isnull=False)
                ),
                name="grant_one_grantee",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target_type} {self.target_id} to {self.grantee_label}"

    @property
    def grantee_label(self) -> str:
        if self.organisation_id:
            return f"organisation {self.organisation}"
        if self.panel_id:
            return f"panel {self.panel}"
        return f"user {self.user}"
