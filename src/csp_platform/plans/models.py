"""A partnership's delivery plan: priorities, objectives (or themes), actions, quarterly
updates, scrutiny recommendations, and the indicators of its performance management
framework (docs/plans.md).

Text is kept as the partnership wrote it (an objective's words, an action's timescale such as
"Ongoing" or "March 2022"); where a date can be read from it, it is kept beside it, parsed
(``due_date``). Every change goes through ``plans/services.py``, which records it in the
audit log (core.audit) in the same transaction: there is no second history here.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Plan(models.Model):
    """One plan document of a partnership (a delivery plan, a scrutiny action plan, ...)."""

    class Kind(models.TextChoices):
        DELIVERY = "delivery", "Delivery plan"
        SCRUTINY = "scrutiny", "Scrutiny action plan"
        STRATEGY = "strategy", "Community safety plan"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        CLOSED = "closed", "Closed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partnership = models.ForeignKey(
        "core.Partnership", on_delete=models.CASCADE, related_name="plans"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.DELIVERY)
    title = models.CharField(max_length=300)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    source_document = models.CharField(
        max_length=500, blank=True, help_text="The file the plan was imported from, if any."
    )
    source_sha256 = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="SHA-256 of the imported file: a second import of it changes nothing.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partnership__name", "-period_start", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["partnership", "title"], name="plan_title_unique_in_partnership"
            )
        ]

    def __str__(self) -> str:
        return self.title


class Priority(models.Model):
    """A priority of a plan ("Priority 1 - Perceptions and Feeling Safe")."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="priorities")
    number = models.PositiveSmallIntegerField(null=True, blank=True)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["plan", "order", "number", "title"]
        verbose_name_plural = "priorities"
        constraints = [
            models.UniqueConstraint(fields=["plan", "title"], name="priority_title_unique")
        ]

    def __str__(self) -> str:
        return self.title


class Objective(models.Model):
    """An objective under a priority, its words as written in the action table.

    ``priority`` is empty when the import could not place it (it says so); ``priority_text``
    is the wording of the priority's bullet it was matched to, and ``match_note`` how.
    """

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="objectives")
    priority = models.ForeignKey(
        Priority, on_delete=models.SET_NULL, null=True, blank=True, related_name="objectives"
    )
    text = models.TextField()
    priority_text = models.TextField(blank=True)
    match_note = models.CharField(max_length=300, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["plan", "order", "id"]

    def __str__(self) -> str:
        return self.text[:80]


class PlanTheme(models.Model):
    """A theme of a plan's "This is what we need to do" table (Antisocial Behaviour, Crime,
    Campaigns, ...): actions sit under a theme where a plan has no objectives."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="themes")
    priority = models.ForeignKey(
        Priority, on_delete=models.SET_NULL, null=True, blank=True, related_name="themes"
    )
    name = models.CharField(max_length=200)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["plan", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "name"], name="plantheme_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Action(models.Model):
    """An action, under an objective or a theme, its words kept as written."""

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETE = "complete", "Complete"
        WITHDRAWN = "withdrawn", "Withdrawn"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="actions")
    objective = models.ForeignKey(
        Objective, on_delete=models.PROTECT, null=True, blank=True, related_name="actions"
    )
    theme = models.ForeignKey(
        PlanTheme, on_delete=models.PROTECT, null=True, blank=True, related_name="actions"
    )
    text = models.TextField()
    order = models.PositiveIntegerField(default=0)
    lead_organisations = models.ManyToManyField(
        "core.Organisation", related_name="led_actions", blank=True
    )
    lead_text = models.CharField(
        max_length=500, blank=True, help_text="The lead column as written (e.g. 'MBC/ YOS')."
    )
    lead_officer = models.CharField(
        max_length=500, blank=True, help_text="A lead officer or post title."
    )
    budget = models.CharField(max_length=200, blank=True)
    timescale = models.CharField(max_length=200, blank=True, help_text="As written.")
    due_date = models.DateField(null=True, blank=True, help_text="Read from the timescale.")
    start_date = models.DateField(null=True, blank=True)
    areas = models.ManyToManyField("areas.Area", related_name="plan_actions", blank=True)
    categories = models.ManyToManyField(
        "incidents.Category", related_name="plan_actions", blank=True
    )
    incident_themes = models.ManyToManyField(
        "incidents.Theme", related_name="plan_actions", blank=True
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    source_line = models.PositiveIntegerField(
        null=True, blank=True, help_text="Line of the imported file the action came from."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan", "order", "id"]

    def __str__(self) -> str:
        return self.text[:80]


class Rag(models.TextChoices):
    """A delivery status: always shown with its word and a symbol, never colour alone."""

    NOT_STARTED = "not_started", "Not started"
    RED = "red", "Red: off track"
    AMBER = "amber", "Amber: at risk"
    GREEN = "green", "Green: on track"
    BLUE = "blue", "Blue: complete"


class Entered(models.Model):
    """An abstract base for what a person enters (a quarterly update, an update on a
    recommendation, a monthly return): who entered it (empty once their account is deleted)
    and when."""

    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    entered_at = models.DateTimeField()

    class Meta:
        abstract = True


class QuarterlyUpdate(Entered):
    """A quarter's update of an action: commentary and a RAG status, who entered it and when.

    Quarters are of the financial year (April to March): "2021-22 Q1" is April-June 2021,
    ``fiscal_year`` 2021. ``rag`` is empty when the source gave none (an imported comment).
    """

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="updates")
    fiscal_year = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Year the financial year starts in (April)."
    )
    quarter = models.PositiveSmallIntegerField(null=True, blank=True)
    quarter_label = models.CharField(max_length=40, blank=True, help_text="e.g. 2021-22 Q1")
    commentary = models.TextField(blank=True)
    rag = models.CharField(max_length=12, choices=Rag.choices, blank=True)
    entered_by_name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["action", "-fiscal_year", "-quarter", "-entered_at", "-id"]

    def __str__(self) -> str:
        return f"{self.quarter_label or 'Update'}: {self.get_rag_display() or 'no status'}"


class ScrutinyRecommendation(models.Model):
    """A scrutiny panel's recommendation and the proposed action (seed 001's table)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETE = "complete", "Complete"
        NOT_ACCEPTED = "not_accepted", "Not accepted"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partnership = models.ForeignKey(
        "core.Partnership", on_delete=models.CASCADE, related_name="scrutiny_recommendations"
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.CASCADE, null=True, blank=True, related_name="recommendations"
    )
    letter = models.CharField(max_length=8, blank=True)
    recommendation = models.TextField()
    proposed_action = models.TextField(blank=True)
    post_title = models.CharField(max_length=300, blank=True)
    budget_cost = models.CharField(max_length=200, blank=True)
    timescale = models.CharField(max_length=200, blank=True)
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.OPEN)
    order = models.PositiveIntegerField(default=0)
    source_line = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["partnership", "plan", "order", "letter"]

    def __str__(self) -> str:
        return f"{self.letter}) {self.recommendation[:60]}"


class RecommendationUpdate(Entered):
    """An update on a scrutiny recommendation."""

    recommendation = models.ForeignKey(
        ScrutinyRecommendation, on_delete=models.CASCADE, related_name="updates"
    )
    commentary = models.TextField()
    rag = models.CharField(max_length=12, choices=Rag.choices, blank=True)

    class Meta:
        ordering = ["recommendation", "-entered_at", "-id"]


class Indicator(models.Model):
    """A measure of the performance management framework.

    ``kind`` computed: ``spec`` says what to count from the incident store, e.g.
    ``{"area": {"code": "E05001234", "generation": "2013"}, "categories": ["fly-tipping"],
    "themes": [], "measure": "count"}`` (measure ``count`` or ``rate_per_1000``).
    ``kind`` manual: partners enter monthly returns (:class:`IndicatorValue`).
    ``source`` names the provider of the values ("incidents", "manual", later "cases"), so a
    new module can feed an indicator without changing this model.
    """

    class Kind(models.TextChoices):
        COMPUTED = "computed", "Computed from incidents"
        MANUAL = "manual", "Manual return"

    class Direction(models.TextChoices):
        LOWER = "lower", "Lower is better"
        HIGHER = "higher", "Higher is better"

    class Frequency(models.TextChoices):
        MONTHLY = "monthly", "Monthly"
        QUARTERLY = "quarterly", "Quarterly"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    partnership = models.ForeignKey(
        "core.Partnership", on_delete=models.CASCADE, related_name="indicators"
    )
    name = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source = models.CharField(max_length=40, default="manual")
    spec = models.JSONField(default=dict, blank=True)
    unit = models.CharField(max_length=60, blank=True)
    target = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    tolerance = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    direction = models.CharField(max_length=6, choices=Direction.choices, default=Direction.LOWER)
    frequency = models.CharField(
        max_length=10, choices=Frequency.choices, default=Frequency.MONTHLY
    )
    owner = models.ForeignKey(
        "core.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="indicators",
    )
    actions = models.ManyToManyField(
        Action, through="ActionIndicator", related_name="indicators", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["partnership", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["partnership", "name"], name="indicator_name_unique_in_partnership"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ActionIndicator(models.Model):
    """An indicator that measures an action (an action may have several, and the reverse)."""

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="indicator_links")
    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="action_links")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["action", "indicator"], name="actionindicator_unique")
        ]


class IndicatorValue(Entered):
    """A month's manual return for an indicator (``month`` is the first of the month)."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="values")
    month = models.DateField()
    value = models.DecimalField(max_digits=14, decimal_places=3)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["indicator", "month"]
        constraints = [
            models.UniqueConstraint(
                fields=["indicator", "month"], name="indicatorvalue_one_per_month"
            )
        ]

    def __str__(self) -> str:
        return f"{self.indicator}: {self.month:%Y-%m} = {self.value}"
