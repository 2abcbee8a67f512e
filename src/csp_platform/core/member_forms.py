"""Forms of the Members page: input shape only; the rules are in member_services."""

from __future__ import annotations

from typing import Any

from django import forms

from csp_platform.core.models import Organisation, Partnership, Role


class _MemberFields(forms.Form):
    organisation = forms.ModelChoiceField(
        queryset=Organisation.objects.none(), empty_label="Choose an organisation"
    )
    role = forms.ChoiceField(choices=Role.choices)

    def __init__(self, *args: Any, partnership: Partnership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organisation"]
        field.queryset = partnership.organisations.order_by("name")  # type: ignore[attr-defined]


class AddMemberForm(_MemberFields):
    field_order = ["username", "organisation", "role"]
    username = forms.CharField(max_length=150)


class InviteForm(_MemberFields):
    field_order = ["username", "email", "organisation", "role"]
    username = forms.RegexField(
        regex=r"^[\w.@+-]+\Z",
        max_length=150,
        error_messages={"invalid": "Use letters, digits and @ . + - _ only"},
    )
    email = forms.EmailField(required=False, label="Email (optional)")


class ChangeMemberForm(_MemberFields):
    pass
