"""The upload page's write: keep the uploaded file in a private temporary folder and run the
same import service the ``csp import-incidents`` command runs (all-or-nothing, idempotent).

The file keeps its own (sanitised) name, so that messages name it as the partner sent it and
mappings that read the month from the file name still can. The folder is removed afterwards;
the import batch records the file's name, SHA-256 and rows.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.utils.text import get_valid_filename

from csp_platform.core.errors import ImportRejected
from csp_platform.incidents import services
from csp_platform.incidents.services import ImportResult, Owner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadOutcome:
    """What the page shows: the import's result, or why nothing was imported."""

    result: ImportResult | None
    rejected: str | None
    file_name: str


def _save(upload: UploadedFile[bytes], folder: Path) -> Path:
    name = get_valid_filename(Path(upload.name or "upload.csv").name) or "upload.csv"
    path = folder / name
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


def upload_import(
    *,
    upload: UploadedFile[bytes],
    fmt: str,
    by_user: str,
    owner: Owner,
    mapping_name: str = "",
    mapping_upload: UploadedFile[bytes] | None = None,
    dry_run: bool = False,
) -> UploadOutcome:
    """Import one uploaded file for ``owner`` (the uploader's organisation in their
    partnership: docs/importing.md#ownership); a rejection (or any failure to read it)
    imports nothing."""
    root = Path(settings.VAR_DIR) / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix="upload-") as tmp:
        folder = Path(tmp)
        path = _save(upload, folder)
        try:
            if fmt == "mapped":
                mapping_path = (
                    _save(mapping_upload, folder)
                    if mapping_upload is not None
                    else Path(settings.CSP_MAPPINGS_DIR) / Path(mapping_name).name
                )
                mapping = services.mapping_load(mapping_path)
                result = services.mapped_import(
                    [path], mapping=mapping, dry_run=dry_run, by_user=by_user, owner=owner
                )
            else:
                result = services.police_uk_import(
                    [path], dry_run=dry_run, by_user=by_user, owner=owner
                )
        except ImportRejected as exc:
            return UploadOutcome(None, str(exc).replace(str(folder) + "/", ""), path.name)
        except Exception:  # the import is one transaction: whatever failed, nothing was written
            log.exception("upload import failed: file=%r format=%s", path.name, fmt)
            message = f"{path.name} could not be read as the format chosen. Nothing was imported."
            return UploadOutcome(None, message, path.name)
    return UploadOutcome(result, None, path.name)


class SizeLimitUploadHandler(FileUploadHandler):
    """Stops receiving a file as soon as it passes CSP_MAX_UPLOAD_MB (the form then says so)."""

    def __init__(self, request: object = None) -> None:
        super().__init__(request)  # type: ignore[arg-type]
        self.limit = settings.CSP_MAX_UPLOAD_MB * 1024 * 1024
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.upload_too_large = True  # type: ignore[union-attr]
            raise StopUpload(connection_reset=False)
        return raw_data

    def new_file(self, *args: object, **kwargs: object) -> None:
        super().new_file(*args, **kwargs)  # type: ignore[arg-type]
        self.received = 0

    def file_complete(self, file_size: int) -> None:
        return None
