"""The hub's filters, read from the query string (so every view can be bookmarked)."""

from __future__ import annotations

from datetime import date

from django import forms
from django.http import QueryDict

from csp_platform.hub.selectors import MEASURES, Choices, Filters, default_period


def _month(d: date) -> str:
    return f"{d:%Y-%m}"


class FilterForm(forms.Form):
    """Area, theme, category, source, period and measure. Choices come from the database."""

    area = forms.CharField(required=False, max_length=40)
    theme = forms.MultipleChoiceField(required=False)
    category = forms.MultipleChoiceField(required=False)
    source = forms.MultipleChoiceField(required=False)
    measure = forms.ChoiceField(required=False, choices=list(MEASURES.items()))
    generation = forms.ChoiceField(required=False)

    def __init__(self, data: QueryDict, choices: Choices) -> None:
        super().__init__(data)
        self.choices = choices
        self.fields["theme"].choices = [  # type: ignore[attr-defined]
            (t.code, _labelled(t.code, t.name, choices)) for t in choices.themes
        ]
        self.fields["category"].choices = [  # type: ignore[attr-defined]
            (c.code, _labelled(c.code, c.name, choices)) for c in choices.categories
        ]
        self.fields["generation"].choices = [  # type: ignore[attr-defined]
            (g, f"{g} boundaries" + (" (current)" if i == 0 else ""))
            for i, g in enumerate(choices.generations)
        ]
        self.fields["source"].choices = [(s.code, s.name) for s in choices.sources]  # type: ignore[attr-defined]
        months = [(_month(m), f"{m:%B %Y}") for m in choices.months]
        self.fields["from"] = forms.ChoiceField(required=False, choices=months)
        self.fields["to"] = forms.ChoiceField(required=False, choices=months)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        first, last = data.get("from"), data.get("to")
        if first and last and str(first) > str(last):
            self.add_error("to", "The end of the period must be the same as or after its start")
        return data

    def filters(self) -> Filters:
        """The filters asked for; any field that did not validate falls back to its default."""
        data = self.cleaned_data if self.is_bound else {}
        default = default_period(self.choices.months_with_data)
        first = _parse(data.get("from")) or default[0]
        last = _parse(data.get("to")) or default[1]
        if first > last:
            first, last = default
        return Filters(
            period=(first, last),
            area_code=data.get("area") or None,
            themes=tuple(data.get("theme") or ()),
            categories=tuple(data.get("category") or ()),
            sources=tuple(data.get("source") or ()),
            measure=data.get("measure") or "count",
            generation=data.get("generation") or None,
        )


def _labelled(code: str, name: str, choices: Choices) -> str:
    """A category or theme as the filters list it: "Fly-tipping (no data loaded)" when no
    loaded incident source records it, so the filters show which categories have data."""
    return name if code in choices.with_data else f"{name} (no data loaded)"


def _parse(value: object) -> date | None:
    if not value:
        return None
    year, month = str(value).split("-")
    return date(int(year), int(month), 1)


def comparison_default(
    months: list[date], period: tuple[date, date] | None = None
) -> tuple[tuple[date, date], tuple[date, date]]:
    """The period (default: the newest three months) and the baseline to compare it with:
    the same number of months, ending at the newest month with data before the period
    (the months just before it when the data are continuous)."""
    from csp_platform.analysis.periods import add_months, month_number

    if not months:
        today = date.today().replace(day=1)
        months = [today]
    if period is None:
        period = (add_months(months[-1], -2), months[-1])
    n = month_number(period[1]) - month_number(period[0]) + 1
    before = [m for m in months if m < period[0]]
    last = before[-1] if before else add_months(period[0], -1)
    return period, (add_months(last, -(n - 1)), last)


class ComparisonForm(forms.Form):
    """Area, period and baseline (SIA and ward profile), all optional with defaults."""

    area = forms.CharField(required=False, max_length=40)
    source = forms.MultipleChoiceField(required=False)

    def __init__(self, data: QueryDict, choices: Choices) -> None:
        super().__init__(data)
        self.choices = choices
        self.fields["source"].choices = [(s.code, s.name) for s in choices.sources]  # type: ignore[attr-defined]
        months = [(_month(m), f"{m:%B %Y}") for m in choices.months]
        for name in ("from", "to", "baseline_from", "baseline_to"):
            self.fields[name] = forms.ChoiceField(required=False, choices=months)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        for first, last in (("from", "to"), ("baseline_from", "baseline_to")):
            if data.get(first) and data.get(last) and str(data[first]) > str(data[last]):
                self.add_error(last, "The end must be the same as or after the start")
        return data

    def periods(self) -> tuple[tuple[date, date], tuple[date, date]]:
        data = self.cleaned_data if self.is_bound else {}
        months = self.choices.months_with_data
        asked = (_parse(data.get("from")), _parse(data.get("to")))
        period = (asked[0], asked[1]) if asked[0] and asked[1] and asked[0] <= asked[1] else None
        period, baseline = comparison_default(months, period)
        b = (_parse(data.get("baseline_from")), _parse(data.get("baseline_to")))
        if b[0] and b[1] and b[0] <= b[1]:
            baseline = (b[0], b[1])
        return period, baseline


class ForecastForm(forms.Form):
    CELL_SIZES = [("100", "100 m"), ("250", "250 m"), ("500", "500 m")]
    TEST_MONTHS = [("6", "6 months"), ("12", "12 months"), ("18", "18 months"), ("24", "24 months")]

    area = forms.CharField(required=False, max_length=40)
    cell = forms.ChoiceField(required=False, choices=CELL_SIZES)
    months = forms.ChoiceField(required=False, choices=TEST_MONTHS)

    def __init__(self, data: QueryDict, choices: Choices) -> None:
        super().__init__(data)
        self.choices = choices
        months = [(_month(m), f"{m:%B %Y}") for m in choices.months]
        self.fields["through"] = forms.ChoiceField(required=False, choices=months)
        themes = [(t.code, t.name) for t in choices.themes]
        self.fields["theme"] = forms.ChoiceField(required=False, choices=[("", "All"), *themes])

    def values(self) -> tuple[str | None, date, int]:
        data = self.cleaned_data if self.is_bound else {}
        months = self.choices.months_with_data
        through = _parse(data.get("through")) or (
            months[-1] if months else date.today().replace(day=1)
        )
        return data.get("area") or None, through, int(data.get("cell") or 250)

    def theme(self) -> str:
        """The theme asked for ("" = every incident)."""
        data = self.cleaned_data if self.is_bound else {}
        return str(data.get("theme") or "")

    def test_months(self) -> int:
        """How many months with data the backtest scores (default 12)."""
        data = self.cleaned_data if self.is_bound else {}
        return int(data.get("months") or 12)
