"""Production fails closed: a missing secret key stops the server with a clear message."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

MISSING_KEY = (
    "CSP_SECRET_KEY is not set. In production set CSP_SECRET_KEY or CSP_SECRET_KEY_FILE "
    "(docs/operations.md); on your own machine set CSP_DEBUG=True (`make demo` does)."
)


def _secret_key_missing() -> bool:
    try:
        return not settings.SECRET_KEY
    except ImproperlyConfigured:  # Django refuses an empty key when it is read
        return True


def require_secret_key() -> None:
    """Called by wsgi.py before the application is built: no key, no server."""
    if _secret_key_missing():
        raise ImproperlyConfigured(MISSING_KEY)


@register(Tags.security, deploy=True)
def secret_key_set(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [Error(MISSING_KEY, id="csp.E001")] if _secret_key_missing() else []
