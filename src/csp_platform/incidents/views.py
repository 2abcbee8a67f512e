"""The data page (sources, months covered and missing, quality) and the upload page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from csp_platform.core.cache import cached
from csp_platform.core.permissions import Perm, requires
from csp_platform.incidents import selectors, uploads
from csp_platform.incidents.forms import UploadForm
from csp_platform.incidents.scope import access_for
from csp_platform.incidents.services import Owner


@require_GET
@requires(Perm.VIEW_DATA)
def data(request: HttpRequest, partnership: str) -> HttpResponse:
    scope = request.membership.partnership  # type: ignore[attr-defined]
    context = {
        "quality": cached(
            ["quality", scope.pk],
            lambda: selectors.quality_report(partnership=scope),
            audience=access_for(request.membership).audience,  # type: ignore[attr-defined]
        ),
        "batches": selectors.batch_list_visible_to(scope)[:20],
    }
    return render(request, "incidents/data.html", context)


@csrf_exempt  # the token is checked by csrf_protect below, once the size limit is in place
@requires(Perm.IMPORT_DATA)
def upload(request: HttpRequest, partnership: str) -> HttpResponse:
    request.upload_handlers.insert(0, uploads.SizeLimitUploadHandler(request))
    return _upload(request, partnership)


@require_http_methods(["GET", "POST"])
@csrf_protect
def _upload(request: HttpRequest, partnership: str) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    outcome = None
    if getattr(request, "upload_too_large", False):
        form.add_error(None, f"The file must be smaller than {settings.CSP_MAX_UPLOAD_MB} MB")
    elif request.method == "POST" and form.is_valid():
        outcome = uploads.upload_import(
            upload=form.cleaned_data["file"],
            fmt=form.cleaned_data["format"],
            by_user=request.user.get_username(),
            owner=Owner(
                organisation=request.membership.organisation,  # type: ignore[attr-defined]
                partnership=request.membership.partnership,  # type: ignore[attr-defined]
            ),
            mapping_name=form.cleaned_data.get("mapping") or "",
            mapping_upload=form.cleaned_data.get("mapping_file"),
            dry_run=form.cleaned_data.get("dry_run", False),
        )
    status = 400 if form.errors or (outcome and outcome.rejected) else 200
    template = (
        "incidents/_upload_result.html"
        if request.headers.get("X-CSP-Fragment")
        else "incidents/upload.html"
    )
    context = {"form": form, "outcome": outcome, "max_mb": settings.CSP_MAX_UPLOAD_MB}
    return render(request, template, context, status=status)
