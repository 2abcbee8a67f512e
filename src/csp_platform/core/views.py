"""Sign-in, sign-out and the partnership chooser."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from csp_platform.core import audit, selectors, services
from csp_platform.core.forms import SignInForm
from csp_platform.core.permissions import public, signed_in

security_log = logging.getLogger("csp.security")


def _messages() -> tuple[str, str]:
    n, minutes = settings.CSP_SIGN_IN_MAX_FAILURES, settings.CSP_SIGN_IN_LOCK_MINUTES
    wrong = (
        "Enter a correct username and password. After "
        f"{n} failed attempts, signing in with a username is paused for {minutes} minutes."
    )
    paused = (
        f"Signing in with this username is paused for {minutes} minutes after {n} failed "
        "attempts. Try again later, or ask your administrator."
    )
    return wrong, paused


@public
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """The same answers for known and unknown usernames, including the pause."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        next_url = ""
    form = SignInForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        username, password = form.cleaned_data["username"], form.cleaned_data["password"]
        error = _attempt(request, username, password)
        if error is None:
            return redirect(next_url or "core:home")
    elif request.method == "POST":
        error = _messages()[0]
    return render(request, "core/sign_in.html", {"form": form, "error": error, "next": next_url})


def _attempt(request: HttpRequest, username: str, password: str) -> str | None:
    wrong, paused = _messages()
    if services.sign_in_paused(username):
        security_log.warning("sign-in refused (paused): username=%r", username)
        return paused
    user = authenticate(request, username=username, password=password)
    if user is None:
        audit.record(action=audit.Action.SIGN_IN_FAILED, actor=username, request=request)
        now_paused = services.sign_in_failed(username)
        security_log.warning("sign-in failed: username=%r paused=%s", username, now_paused)
        return paused if now_paused else wrong
    services.sign_in_succeeded(username)
    login(request, user)  # a new session key at sign-in
    audit.record(action=audit.Action.SIGN_IN, request=request)
    security_log.info("sign-in: username=%r", username)
    return None


@signed_in
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    security_log.info("sign-out: username=%r", request.user.get_username())
    audit.record(action=audit.Action.SIGN_OUT, request=request)
    logout(request)
    return redirect("core:sign_in")


@signed_in
def home(request: HttpRequest) -> HttpResponse:
    """Straight to the hub for a member of one partnership; a choice for several."""
    memberships = list(selectors.membership_list_for(request.user))
    if len(memberships) == 1:
        return redirect("hub:hub", partnership=memberships[0].partnership.slug)
    return render(request, "core/home.html", {"choices": memberships})
