"""Session timeouts, the second factor's gate, no caching of signed-in pages and the
Content-Security-Policy header.

Sessions (SECURITY.md settled choice 3): the session expires after
``SESSION_COOKIE_AGE`` (30 minutes) without a request, and at the latest
``CSP_SESSION_MAX_HOURS`` (10 hours) after sign-in, whatever the activity. The idle clock is
pushed forward at most once a minute, so a busy page does not write its session on every
request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode

Handler = Callable[[HttpRequest], HttpResponse]
STARTED = "csp_signed_in_at"
TOUCHED = "csp_seen_at"


def session_timeouts(get_response: Handler) -> Handler:
    def middleware(request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            started = request.session.get(STARTED)
            if started is None:
                request.session[STARTED] = now
            elif now - int(started) > settings.CSP_SESSION_MAX_HOURS * 3600:
                logout(request)
                return redirect_to_login(request.get_full_path())
            if now - int(request.session.get(TOUCHED, 0)) >= 60:
                request.session[TOUCHED] = now  # saving the session restarts the idle clock
        return get_response(request)

    return middleware


class SecondFactorMiddleware:
    """A signed-in user who has not given the second factor reaches only the pages marked
    ``second_factor_step`` (the second step, enrolment, sign-out). Everyone else is sent
    to the second step if they have a device, to enrolment if their role requires one
    (core.sign_in.second_factor_required), and through otherwise."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., HttpResponse], *args: object
    ) -> HttpResponse | None:
        from django_otp import user_has_device

        from csp_platform.core.sign_in import second_factor_required

        user = request.user
        if not user.is_authenticated or user.is_verified():  # type: ignore[attr-defined]
            return None
        if getattr(view, "before_second_factor", False):
            return None
        if user_has_device(user):
            target = "core:second_factor"
        elif second_factor_required(user):
            target = "core:second_factor_enrol"
        else:
            return None
        query = urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(f"{reverse(target)}?{query}")


def no_store(get_response: Handler) -> Handler:
    """Nothing a signed-in user is shown is kept by the browser or a proxy (pages, JSON and
    CSV): ``Cache-Control: no-store``."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if request.user.is_authenticated:
            add_never_cache_headers(response)
        return response

    return middleware


def _policy() -> str:
    tiles = settings.CSP_MAP_TILES
    img = ["'self'", "data:"]
    if tiles:
        parts = urlsplit(tiles.replace("{s}", "*"))
        img.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {' '.join(img)}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def content_security_policy(get_response: Handler) -> Handler:
    """No inline script or style anywhere: every page's script is a file under static/."""
    policy = _policy()

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.headers.setdefault("Content-Security-Policy", policy)
        return response

    return middleware


class DomainErrorMiddleware:
    """A :class:`~csp_platform.core.errors.DomainError` raised by a service or selector
    becomes a 400 answer carrying its user-safe message (JSON for ``.json``/``.csv``
    endpoints, the 400 page otherwise). Anything else is left to Django's generic 500 page,
    logged with the request."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        from django.http import JsonResponse
        from django.shortcuts import render

        from csp_platform.core.errors import DomainError

        if not isinstance(exc, DomainError):
            return None
        if request.path.endswith((".json", ".csv")):
            return JsonResponse({"error": str(exc)}, status=400)
        return render(request, "400.html", {"message": str(exc)}, status=400)
