from __future__ import annotations

from django import forms


class SignInForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "spellcheck": "false"}),
    )
    password = forms.CharField(
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeForm(forms.Form):
    """A six-digit code from the authenticator app, or a recovery code."""

    code = forms.CharField(
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "spellcheck": "false", "inputmode": "text"}
        ),
    )

    def clean_code(self) -> str:
        return "".join(str(self.cleaned_data["code"]).split()).lower()
