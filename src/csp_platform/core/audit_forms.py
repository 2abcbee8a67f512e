"""The audit search's input: user, action, date range (Europe/London days) and target."""

from __future__ import annotations

from django import forms

from csp_platform.core.models import AuditAction
from csp_platform.core.selectors import AuditQuery


class AuditSearchForm(forms.Form):
    user = forms.CharField(label="User name", max_length=150, required=False)
    action = forms.ChoiceField(
        label="Action", choices=[("", "Any action"), *AuditAction.choices], required=False
    )
    since = forms.DateField(label="From (YYYY-MM-DD)", required=False)
    until = forms.DateField(label="To (YYYY-MM-DD)", required=False)
    target_type = forms.CharField(label="Record type", max_length=60, required=False)
    target_id = forms.CharField(label="Record id", max_length=120, required=False)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date must be on or after the start date.")
        return data

    def query(self) -> AuditQuery:
        d = self.cleaned_data if self.is_valid() else {}
        return AuditQuery(
            actor=d.get("user", "").strip(),
            action=d.get("action", ""),
            since=d.get("since"),
            until=d.get("until"),
            target_type=d.get("target_type", "").strip(),
            target_id=d.get("target_id", "").strip(),
        )
