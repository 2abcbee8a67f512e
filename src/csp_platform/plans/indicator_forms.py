"""The monthly return form: input shape only (the service checks who may enter it)."""

from __future__ import annotations

from datetime import date

from django import forms


class ReturnForm(forms.Form):
    month = forms.CharField(
        label="Month", help_text="For example, 2024-03", max_length=7,
        widget=forms.TextInput(attrs={"class": "govuk-input govuk-input--width-5"}),
    )  # fmt: skip
    value = forms.DecimalField(
        label="Value", min_value=0, max_digits=14, decimal_places=3,
        widget=forms.TextInput(attrs={"class": "govuk-input govuk-input--width-10",
                                      "inputmode": "decimal"}),
    )  # fmt: skip
    note = forms.CharField(
        label="Note (optional)", required=False, max_length=2000,
        widget=forms.Textarea(attrs={"class": "govuk-textarea", "rows": 3}),
    )  # fmt: skip

    def clean_month(self) -> date:
        text = self.cleaned_data["month"].strip()
        try:
            year, month = (int(p) for p in text.split("-"))
            return date(year, month, 1)
        except ValueError:
            raise forms.ValidationError("Enter the month as YYYY-MM, for example 2024-03") from None
