"""The Members page: a partnership's administrators manage who is in it and in which role.

Every view is reached through ``@requires(Perm.MANAGE_MEMBERS)`` on the partnership in the
URL (an outsider, including an administrator of another partnership, gets 404), and
members are fetched only among the partnership's own (``member_get_for``). The one-time
set-password page for an invited user is public: its link is the credential.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.http import require_http_methods

from csp_platform.core import member_selectors as selectors
from csp_platform.core import member_services as services
from csp_platform.core.errors import NotPermitted
from csp_platform.core.member_forms import AddMemberForm, ChangeMemberForm, InviteForm
from csp_platform.core.models import Role
from csp_platform.core.permissions import Perm, public, requires


def _list(request: HttpRequest, status: int = 200, **forms: Any) -> HttpResponse:
    admin = request.membership  # type: ignore[attr-defined]
    context = {
        "members": selectors.member_list_for(admin.partnership),
        "add_form": forms.get("add_form") or AddMemberForm(partnership=admin.partnership),
        "invite_form": forms.get("invite_form") or InviteForm(partnership=admin.partnership),
        "invitation": forms.get("invitation"),
    }
    return render(request, "core/members/list.html", context, status=status)


@require_http_methods(["GET", "POST"])
@requires(Perm.MANAGE_MEMBERS)
def member_list(request: HttpRequest, partnership: str) -> HttpResponse:
    """The list, and the two forms that post to it (``action``: add or invite)."""
    if request.method == "POST" and request.POST.get("action") == "invite":
        return _invite(request, partnership)
    if request.method == "POST":
        return _add(request, partnership)
    return _list(request)


def _add(request: HttpRequest, partnership: str) -> HttpResponse:
    admin = request.membership  # type: ignore[attr-defined]
    form = AddMemberForm(request.POST, partnership=admin.partnership)
    if form.is_valid():
        try:
            member = services.member_add(admin=admin, **_fields(form, "username"))
        except NotPermitted as exc:
            form.add_error("username", str(exc))
        else:
            messages.success(request, f"{member.user.get_username()} was added.")
            return redirect("members:list", partnership)
    return _list(request, 400, add_form=form)


def _invite(request: HttpRequest, partnership: str) -> HttpResponse:
    """The set-password link is shown on this answer only (never stored in a message)."""
    admin = request.membership  # type: ignore[attr-defined]
    form = InviteForm(request.POST, partnership=admin.partnership)
    if form.is_valid():
        try:
            invitation = services.member_invite(admin=admin, **_fields(form, "username", "email"))
        except NotPermitted as exc:
            form.add_error("username", str(exc))
        else:
            link = request.build_absolute_uri(invitation.set_password_path)
            return _list(request, invitation={"member": invitation.member, "link": link})
    return _list(request, 400, invite_form=form)


@require_http_methods(["GET", "POST"])
@requires(Perm.MANAGE_MEMBERS)
def member_change(request: HttpRequest, partnership: str, member_id: int) -> HttpResponse:
    admin = request.membership  # type: ignore[attr-defined]
    member = selectors.member_get_for(admin, member_id)
    initial = {"organisation": member.organisation, "role": member.role}
    form = ChangeMemberForm(request.POST or None, initial=initial, partnership=admin.partnership)
    if request.method == "POST" and form.is_valid():
        try:
            services.member_change(admin=admin, member=member, **_fields(form))
        except NotPermitted as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{member.user.get_username()}'s membership was changed.")
            return redirect("members:list", partnership)
    status = 400 if form.errors else 200
    context = {"member": member, "form": form}
    return render(request, "core/members/change.html", context, status=status)


@require_http_methods(["GET", "POST"])
@requires(Perm.MANAGE_MEMBERS)
def member_remove(request: HttpRequest, partnership: str, member_id: int) -> HttpResponse:
    admin = request.membership  # type: ignore[attr-defined]
    member = selectors.member_get_for(admin, member_id)
    error = None
    if request.method == "POST":
        try:
            services.member_remove(admin=admin, member=member)
        except NotPermitted as exc:
            error = str(exc)
        else:
            messages.success(request, f"{member.user.get_username()} was removed.")
            return redirect("members:list", partnership)
    context = {"member": member, "error": error}
    return render(request, "core/members/remove.html", context, status=400 if error else 200)


def _fields(form: Any, *names: str) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "organisation": data["organisation"],
        "role": Role(data["role"]),
        **{n: data[n] for n in names},
    }


@public
@require_http_methods(["GET", "POST"])
def set_password(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """An invited user chooses a password; the link stops working once it has been used."""
    model = get_user_model()
    try:
        user = model.objects.get(pk=force_str(urlsafe_base64_decode(uidb64)))
    except (ValueError, TypeError, OverflowError, model.DoesNotExist):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        return render(request, "core/members/set_password.html", {"invalid": True}, status=404)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()  # changes the password hash, so the link no longer works
        services.password_set_by_link(user)
        return render(request, "core/members/set_password.html", {"done": True})
    status = 400 if form.errors else 200
    return render(request, "core/members/set_password.html", {"form": form}, status=status)
