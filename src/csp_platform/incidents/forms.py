"""The upload form: a partner file, how to read it, and (for partner files) its mapping."""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.conf import settings

from csp_platform.incidents.limits import MAPPING_MAX_BYTES

FILE_SUFFIXES = (".csv", ".csv.gz", ".xlsx")
MAPPING_SUFFIXES = (".yaml", ".yml")


def example_mappings() -> list[tuple[str, str]]:
    folder = Path(settings.CSP_MAPPINGS_DIR)
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    return [(p.name, p.stem.replace("-", " ").capitalize()) for p in files]


class UploadForm(forms.Form):
    FORMATS = [
        ("police-uk", "police.uk street-level crime file"),
        ("mapped", "Partner file, read with a mapping"),
    ]

    file = forms.FileField(label="File to import")
    format = forms.ChoiceField(choices=FORMATS, initial="police-uk")
    mapping = forms.ChoiceField(required=False)
    mapping_file = forms.FileField(required=False)
    dry_run = forms.BooleanField(required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["mapping"].choices = [("", "Choose a mapping"), *example_mappings()]  # type: ignore[attr-defined]

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        limit = settings.CSP_MAX_UPLOAD_MB
        if upload.size > limit * 1024 * 1024:
            raise forms.ValidationError(f"The file must be smaller than {limit} MB")
        if not upload.name.lower().endswith(FILE_SUFFIXES):
            raise forms.ValidationError("The file must be a CSV (.csv or .csv.gz) or .xlsx file")
        return upload

    def clean_mapping_file(self) -> object:
        upload = self.cleaned_data.get("mapping_file")
        if upload is None:
            return None
        if upload.size > MAPPING_MAX_BYTES or not upload.name.lower().endswith(MAPPING_SUFFIXES):
            raise forms.ValidationError("The mapping must be a YAML file (.yaml) under 256 KB")
        return upload

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("format") == "mapped" and not (data.get("mapping") or data.get("mapping_file")):
            self.add_error("mapping", "Choose a mapping, or upload one, to read a partner file")
        if data.get("format") == "mapped" and data.get("mapping") and data.get("mapping_file"):
            self.add_error("mapping_file", "Choose a mapping or upload one, not both")
        return data
