"""Forms of the plan pages: filters, an action, a quarterly update."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict

from csp_platform.areas.models import Area
from csp_platform.core.models import Organisation
from csp_platform.incidents.models import Category, Theme
from csp_platform.plans.models import Action, Objective, Plan, PlanTheme, Rag
from csp_platform.plans.parsing import parse_due_date


def _govuk(form: forms.Form) -> None:
    """GOV.UK classes on the widgets, and the hint named by aria-describedby."""
    for name, field in form.fields.items():
        widget = field.widget
        if isinstance(widget, forms.Textarea):
            widget.attrs["class"] = "govuk-textarea"
        elif isinstance(widget, forms.SelectMultiple):
            widget.attrs["class"] = "govuk-select csp-select-multiple"
            widget.attrs.setdefault("size", "6")
        elif isinstance(widget, forms.Select) and not isinstance(widget, forms.RadioSelect):
            widget.attrs["class"] = "govuk-select"
        elif isinstance(widget, forms.widgets.Input):
            widget.attrs["class"] = "govuk-input"
        if field.help_text:
            widget.attrs["aria-describedby"] = f"id_{name}-hint"


RAG_FILTER = [("", "Any status"), *Rag.choices, ("none", "No status yet")]


class PlanFilterForm(forms.Form):
    priority = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    organisation = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    rag = forms.ChoiceField(required=False, choices=RAG_FILTER)
    overdue = forms.BooleanField(required=False)

    def __init__(self, data: QueryDict, plan: Plan, organisations: list[Organisation]) -> None:
        super().__init__(data)
        self.fields["priority"].choices = [  # type: ignore[attr-defined]
            ("", "All priorities"),
            *[(p.pk, p.title) for p in plan.priorities.order_by("order", "number")],
        ]
        self.fields["organisation"].choices = [  # type: ignore[attr-defined]
            ("", "Any lead organisation"),
            *[(o.pk, o.name) for o in organisations],
        ]


class ActionForm(forms.Form):
    """An action's words, place in the plan, leads, dates and links."""

    parent = forms.ChoiceField(label="Objective or theme")
    text = forms.CharField(label="Action", widget=forms.Textarea(attrs={"rows": 4}))
    lead_organisations = forms.ModelMultipleChoiceField(
        queryset=Organisation.objects.none(), required=False, label="Lead organisations"
    )
    lead_officer = forms.CharField(
        required=False, max_length=500, label="Lead officer or post title"
    )
    budget = forms.CharField(required=False, max_length=200)
    timescale = forms.CharField(
        required=False,
        max_length=200,
        help_text="As you would write it: 'March 2022', 'Q3 2022-23', 'Ongoing'.",
    )
    due_date = forms.DateField(
        required=False,
        label="Due date",
        help_text="For example 2022-03-31. Left empty, it is read from the timescale.",
    )
    start_date = forms.DateField(
        required=False, help_text="When the action started (for judging whether it worked)."
    )
    status = forms.ChoiceField(choices=Action.Status.choices)
    areas = forms.ModelMultipleChoiceField(
        queryset=Area.objects.none(), required=False, label="Areas (wards)"
    )
    categories = forms.ModelMultipleChoiceField(
        queryset=Category.objects.all(), required=False, label="Incident categories"
    )
    incident_themes = forms.ModelMultipleChoiceField(
        queryset=Theme.objects.all(), required=False, label="Incident themes"
    )

    def __init__(self, *args: Any, plan: Plan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plan = plan
        objectives = list(plan.objectives.select_related("priority").order_by("order"))
        themes = list(plan.themes.order_by("order"))
        self.fields["parent"].choices = [  # type: ignore[attr-defined]
            *[(f"objective:{o.pk}", f"Objective: {o.text[:90]}") for o in objectives],
            *[(f"theme:{t.pk}", f"Theme: {t.name}") for t in themes],
        ]
        self.fields["lead_organisations"].queryset = (  # type: ignore[attr-defined]
            plan.partnership.organisations.order_by("name")
        )
        districts = list(plan.partnership.districts.all())
        self.fields["areas"].queryset = (  # type: ignore[attr-defined]
            Area.objects.filter(level="ward", parent__in=districts).order_by("-generation", "name")
        )
        _govuk(self)

    def chosen_parent(self) -> tuple[Objective | None, PlanTheme | None]:
        kind, _, pk = self.cleaned_data["parent"].partition(":")
        if kind == "objective":
            return self.plan.objectives.get(pk=int(pk)), None
        return None, self.plan.themes.get(pk=int(pk))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("due_date") and data.get("timescale"):
            data["due_date"] = parse_due_date(data["timescale"])
        return data

    @staticmethod
    def initial_for(action: Action) -> dict[str, Any]:
        parent = (
            f"objective:{action.objective_id}"
            if action.objective_id
            else f"theme:{action.theme_id}"
        )
        return {
            "parent": parent,
            "text": action.text,
            "lead_organisations": list(action.lead_organisations.all()),
            "lead_officer": action.lead_officer,
            "budget": action.budget,
            "timescale": action.timescale,
            "due_date": action.due_date,
            "start_date": action.start_date,
            "status": action.status,
            "areas": list(action.areas.all()),
            "categories": list(action.categories.all()),
            "incident_themes": list(action.incident_themes.all()),
        }


class QuarterlyUpdateForm(forms.Form):
    fiscal_year = forms.IntegerField(
        label="Financial year starting in",
        min_value=2000,
        max_value=2100,
        help_text="The year the financial year starts in April: 2021 for 2021-22.",
    )
    quarter = forms.TypedChoiceField(
        coerce=int,
        choices=[
            (1, "Q1 (April to June)"),
            (2, "Q2 (July to September)"),
            (3, "Q3 (October to December)"),
            (4, "Q4 (January to March)"),
        ],
        widget=forms.RadioSelect,
    )
    rag = forms.ChoiceField(label="Status", choices=Rag.choices, widget=forms.RadioSelect)
    commentary = forms.CharField(
        label="Update", widget=forms.Textarea(attrs={"rows": 5}), max_length=5000
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _govuk(self)
