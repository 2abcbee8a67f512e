"""Sign-in (password, then the second factor), sign-out, the account pages and the
partnership chooser.

There is one sign-in for the whole site: the admin site's login sends people here. Sign-in
limits are django-axes' (core/sign_in.py); every success, failure and pause is a security
event (core/security_log.py).
"""

from __future__ import annotations

import logging
from base64 import b32encode

import segno
from django.conf import settings
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import devices_for_user, user_has_device, verify_token
from django_otp import login as otp_login

from csp_platform.core import audit, selectors, services
from csp_platform.core.forms import CodeForm, SignInForm
from csp_platform.core.permissions import public, second_factor_step, signed_in
from csp_platform.core.security_log import client_address, event
from csp_platform.core.sign_in import checked_one_at_a_time, second_factor_required

WARNING = logging.WARNING


def _messages() -> tuple[str, str]:
    n, minutes = settings.CSP_SIGN_IN_MAX_FAILURES, settings.CSP_SIGN_IN_LOCK_MINUTES
    wrong = (
        "Enter a correct username and password. After "
        f"{n} failed attempts, signing in with a username is paused for {minutes} minutes."
    )
    paused = (
        f"Signing in is paused for {minutes} minutes after too many failed attempts. "
        "Try again later, or ask your administrator."
    )
    return wrong, paused


def _next_url(request: HttpRequest) -> str:
    """A local path to return to after signing in, or '' (never another site, never a bare
    word that is not a path)."""
    value = request.POST.get("next") or request.GET.get("next") or ""
    if not value.startswith("/") or not url_has_allowed_host_and_scheme(
        value, {request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    return value


def _go_on(request: HttpRequest, next_url: str) -> HttpResponse:
    return HttpResponseRedirect(next_url or reverse("core:home"))


def _with_next(name: str, next_url: str) -> HttpResponse:
    url = reverse(name)
    return HttpResponseRedirect(f"{url}?{urlencode({'next': next_url})}" if next_url else url)


def paused_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/sign_in.html",
        {"form": SignInForm(), "error": _messages()[1], "next": _next_url(request)},
        status=429,
    )


@public
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """The same answers for known and unknown usernames, including the pause."""
    next_url = _next_url(request)
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username, password = form.cleaned_data["username"], form.cleaned_data["password"]
        with checked_one_at_a_time(client_address(request)):
            user = authenticate(request, username=username, password=password)
        if getattr(request, "axes_locked_out", False):
            event("sign-in paused", request, level=WARNING, username=username)
            audit.record(
                action=audit.Action.SIGN_IN_FAILED,
                actor=username,
                request=request,
                detail={"paused": True},
            )
            return paused_page(request)
        if user is None:
            event("sign-in failed", request, level=WARNING, username=username)
            audit.record(action=audit.Action.SIGN_IN_FAILED, actor=username, request=request)
            return _page(request, form, _messages()[0], next_url)
        login(request, user)  # a new session key at sign-in
        has_device = user_has_device(user)
        event("sign-in", request, username=user.get_username(), second_factor=has_device)
        audit.record(
            action=audit.Action.SIGN_IN, request=request, detail={"second_factor": has_device}
        )
        if has_device:
            return _with_next("core:second_factor", next_url)
        if second_factor_required(user):
            return _with_next("core:second_factor_enrol", next_url)
        return _go_on(request, next_url)
    error = _messages()[0] if request.method == "POST" else None
    return _page(request, form, error, next_url)


def _page(request: HttpRequest, form: SignInForm, error: str | None, next_url: str) -> HttpResponse:
    return render(request, "core/sign_in.html", {"form": form, "error": error, "next": next_url})


@login_not_required
def admin_sign_in(request: HttpRequest, extra_context: object = None) -> HttpResponse:
    """The admin site's login (``admin.site.login``): it checks no password itself but sends
    people to ours, with the same limits, second factor and logging."""
    next_url = _next_url(request) or reverse("admin:index")
    if request.user.is_authenticated:
        if not request.user.is_superuser:  # signed in, but the admin is not for them
            raise PermissionDenied
        return HttpResponseRedirect(next_url)
    return _with_next("core:sign_in", next_url)


@second_factor_step
@require_http_methods(["GET", "POST"])
def second_factor(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a code from the app, or a recovery code."""
    next_url = _next_url(request)
    user = request.user
    if user.is_verified():  # type: ignore[union-attr]
        return _go_on(request, next_url)
    if not user_has_device(user):
        return _with_next("core:second_factor_enrol", next_url)
    form = CodeForm(request.POST or None)
    error = None
    if request.method == "POST":
        device = None
        if form.is_valid():
            code = form.cleaned_data["code"]
            for candidate in devices_for_user(user):
                device = verify_token(user, candidate.persistent_id, code)
                if device is not None:
                    break
        if device is not None:
            otp_login(request, device)
            recovery = device.name == services.RECOVERY_DEVICE
            event("second factor verified", request, recovery_code=recovery)
            return _go_on(request, next_url)
        held = _held_back(user)
        event("second factor failed", request, level=WARNING, held_back=held)
        error = (
            "Wait a few seconds after a wrong code, then enter the code your app shows now."
            if held
            else "Enter the 6-digit code from your authenticator app, or a recovery code."
        )
    return render(
        request, "core/second_factor.html", {"form": form, "error": error, "next": next_url}
    )


def _held_back(user: object) -> bool:
    """Is every device of the user holding tries back after wrong codes (django-otp's
    throttling: 1 s after one wrong code, doubling with each)?"""
    return all(not d.verify_is_allowed()[0] for d in devices_for_user(user))


@second_factor_step
@require_http_methods(["GET", "POST"])
def second_factor_enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: QR code and the secret as text, then a code from it."""
    next_url = _next_url(request)
    user = request.user
    if user_has_device(user):
        return render(request, "core/second_factor_enrolled.html", {"next": next_url})
    device = services.second_factor_pending(user)  # type: ignore[arg-type]
    form = CodeForm(request.POST or None)
    error = None
    if request.method == "POST":
        codes = (
            services.second_factor_confirm(device, form.cleaned_data["code"])
            if (form.is_valid())
            else None
        )
        if codes is not None:
            device.refresh_from_db()
            otp_login(request, device)
            event("second factor enrolled", request)
            return render(
                request,
                "core/recovery_codes.html",
                {"codes": codes, "next": next_url or reverse("core:home")},
            )
        held = not device.verify_is_allowed()[0]
        event("second factor enrolment failed", request, level=WARNING, held_back=held)
        error = (
            "Wait a few seconds after a wrong code, then enter the code your app shows now."
            if held
            else "Enter the 6-digit code your authenticator app shows now."
        )
    secret = b32encode(device.bin_key).decode()
    qr = segno.make(device.config_url, error="m")
    context = {
        "form": form,
        "error": error,
        "next": next_url,
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
        "qr_svg": qr.svg_inline(scale=4, title="QR code for your authenticator app"),
        "required": second_factor_required(user),
    }
    return render(request, "core/second_factor_enrol.html", context)


@second_factor_step
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    event("sign-out", request)
    audit.record(action=audit.Action.SIGN_OUT, request=request)
    logout(request)
    return redirect("core:sign_in")


@signed_in
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """Change one's own password (the old one, then the new one twice)."""
    form = PasswordChangeForm(request.user, request.POST or None)  # type: ignore[arg-type]
    if request.method == "POST":
        if form.is_valid():
            user = form.save()
            update_session_auth_hash(request, user)  # this session stays signed in
            event("password changed", request)
            return render(request, "core/password_changed.html")
        event("password change refused", request, level=WARNING)
    return render(request, "core/password_change.html", {"form": form})


@signed_in
def home(request: HttpRequest) -> HttpResponse:
    """Straight to the hub for a member of one partnership; a choice for several."""
    memberships = list(selectors.membership_list_for(request.user))
    if len(memberships) == 1:
        return redirect("hub:hub", partnership=memberships[0].partnership.slug)
    return render(request, "core/home.html", {"choices": memberships})
