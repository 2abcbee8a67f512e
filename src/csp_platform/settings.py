"""Django settings for CSP Hub: one file, configured from the environment.

Every ``CSP_*`` variable is listed in the README's configuration table (a convention test
checks this). ``DATABASE_URL`` unset means an embedded SQLite file under ``var/``.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent


def env_str(name: str, default: str) -> str:
    """A string setting; ``NAME_FILE`` may point at a file holding the value (secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use True or False).")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from exc


DEBUG = env_bool("CSP_DEBUG", False)
SECRET_KEY = env_str("CSP_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and env_bool("CSP_REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured("CSP_SECRET_KEY must be set in production.")
    SECRET_KEY = "insecure-development-key-set-CSP_SECRET_KEY-in-production"  # noqa: S105
ALLOWED_HOSTS = [h for h in env_str("CSP_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

VAR_DIR = Path(env_str("CSP_VAR_DIR", str(PROJECT_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp_platform.core",
    "csp_platform.areas",
    "csp_platform.incidents",
    "csp_platform.analysis",
    "csp_platform.hub",
    "csp_platform.plans",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Deny by default: every view needs a signed-in user unless marked @public.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "csp_platform.core.middleware.session_timeouts",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp_platform.core.middleware.content_security_policy",
    "csp_platform.core.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "csp_platform.urls"
WSGI_APPLICATION = "csp_platform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp_platform.core.context_processors.hub",
            ]
        },
    }
]


def _database_from_env() -> dict[str, object]:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "csp.sqlite3"),
            "OPTIONS": {
                # WAL for concurrent readers while an import writes; FULL so that a
                # committed import survives a crash (docs/operations.md).
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                "PRAGMA foreign_keys=ON;",
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
            },
        }
    if not url.startswith(("postgres://", "postgresql://", "sqlite://")):
        raise ImproperlyConfigured(
            "DATABASE_URL must be a postgresql:// URL (or sqlite:///path); got "
            f"{url.split(':', 1)[0]!r}."
        )
    config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=60))
    return config


DATABASES = {"default": _database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it, even if empty
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Imports: files bigger than this are refused by the upload page (the CLI has no limit).
CSP_MAX_UPLOAD_MB = env_int("CSP_MAX_UPLOAD_MB", 200)
# Mappings offered on the upload page (besides an uploaded YAML file).
CSP_MAPPINGS_DIR = Path(env_str("CSP_MAPPINGS_DIR", str(PROJECT_DIR / "examples" / "mappings")))

# Sign-in and sessions (SECURITY.md settled choice 3): 30 minutes idle, 10 hours at most,
# and a 30-minute pause after 6 failed sign-ins for one username (known or not).
LOGIN_URL = "core:sign_in"
LOGIN_REDIRECT_URL = "core:home"
SESSION_COOKIE_AGE = env_int("CSP_SESSION_IDLE_MINUTES", 30) * 60
CSP_SESSION_MAX_HOURS = env_int("CSP_SESSION_MAX_HOURS", 10)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSP_SIGN_IN_MAX_FAILURES = env_int("CSP_SIGN_IN_MAX_FAILURES", 6)
CSP_SIGN_IN_LOCK_MINUTES = env_int("CSP_SIGN_IN_LOCK_MINUTES", 30)
# The reverse proxies in front of the server (addresses or networks, comma list): behind
# one of them the client's address is read from X-Forwarded-For (core/audit.py).
CSP_TRUSTED_PROXIES = [
    p.strip() for p in env_str("CSP_TRUSTED_PROXIES", "").split(",") if p.strip()
]
for _proxy in CSP_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"CSP_TRUSTED_PROXIES: {_proxy!r} is not an IP address or network."
        ) from exc
# Behind TLS (production): secure cookies and HSTS.
CSP_SECURE_COOKIES = env_bool("CSP_SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = CSP_SECURE_COOKIES
if CSP_SECURE_COOKIES:
    SECURE_HSTS_SECONDS = 31_536_000
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# The hub map: base-map tiles are optional. Unset, the map draws ward polygons on a blank
# background and makes no request outside this server.
CSP_MAP_TILES = env_str("CSP_MAP_TILES", "")
CSP_MAP_ATTRIBUTION = env_str("CSP_MAP_ATTRIBUTION", "")

# Results cached until the data change (core/cache.py): one folder shared by every server
# process, so an expensive analysis is computed once, not once per worker.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache"),
        "TIMEOUT": 3600,
        "OPTIONS": {"MAX_ENTRIES": 5000},
    }
}

# Static files: the app's own and the npm packages copied into core/static/vendor/ at
# install time, served by whitenoise straight from the app folders (no collectstatic step).
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("CSP_LOG_LEVEL", "WARNING")},
}
