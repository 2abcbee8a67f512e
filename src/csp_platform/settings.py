"""Django settings for CSP Hub: one file, configured from the environment.

Every ``CSP_*`` variable is listed in the README's configuration table (a convention test
checks this). ``DATABASE_URL`` unset means an embedded SQLite file under ``var/``.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from datetime import timedelta
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
# pytest sets PYTEST_VERSION for its run (and the subprocesses the tests start).
TESTING = bool(os.environ.get("PYTEST_VERSION"))
SECRET_KEY = env_str("CSP_SECRET_KEY", "")
if not SECRET_KEY and (DEBUG or TESTING):
    # Debug and tests: a random key for this process only (sessions end with it).
    SECRET_KEY = secrets.token_urlsafe(50)
# Otherwise an unset key stays empty: production fails closed. There is no built-in key; the
# server refuses to start (wsgi.py), `csp check --deploy` reports csp.E001, and anything that
# signs (sessions, CSRF) raises. Commands that sign nothing (imports, migrations) still run.
ALLOWED_HOSTS = [h for h in env_str("CSP_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

VAR_DIR = Path(env_str("CSP_VAR_DIR", str(PROJECT_DIR / "var")))

INSTALLED_APPS = [
    "csp_platform.core.apps.CspAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp_platform.core",
    "csp_platform.areas",
    "csp_platform.incidents",
    "csp_platform.analysis",
    "csp_platform.hub",
    "csp_platform.plans",
    "csp_platform.digest",
    "csp_platform.demo",
    "django_q",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Deny by default: every view needs a signed-in user unless marked @public.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "csp_platform.core.middleware.session_timeouts",
    # A signed-in user who needs a second factor reaches only the second-factor pages first.
    "csp_platform.core.middleware.SecondFactorMiddleware",
    "csp_platform.core.middleware.no_store",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp_platform.core.middleware.content_security_policy",
    "csp_platform.core.middleware.DomainErrorMiddleware",
    # django-axes: turns a sign-in refused for too many failures into our page (last).
    "axes.middleware.AxesMiddleware",
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


def _private_sqlite(path: Path) -> None:
    """Create the SQLite file readable and writable by its owner only (0600), and tighten an
    existing one with its -wal and -shm files (SQLite gives those the main file's mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists() and name.stat().st_mode & 0o077:
            name.chmod(0o600)


def _database_from_env() -> dict[str, object]:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        _private_sqlite(VAR_DIR / "csp.sqlite3")
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
    name = str(config.get("NAME") or "")
    if url.startswith("sqlite://") and name and name != ":memory:":
        _private_sqlite(Path(name))
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
# What one imported file may hold, for the CLI and the upload page alike (docs/importing.md
# #limits). A file past a limit is refused as soon as that is seen, naming the file, row and
# column; the defaults are far above any real partner file and bound what a hostile one costs.
CSP_IMPORT_MAX_FILE_MB = env_int("CSP_IMPORT_MAX_FILE_MB", 4096)
CSP_IMPORT_MAX_RECORD_KB = env_int("CSP_IMPORT_MAX_RECORD_KB", 1024)
CSP_IMPORT_MAX_FIELD_KB = env_int("CSP_IMPORT_MAX_FIELD_KB", 64)
CSP_IMPORT_MAX_ROWS = env_int("CSP_IMPORT_MAX_ROWS", 10_000_000)
CSP_IMPORT_MAX_COLUMNS = env_int("CSP_IMPORT_MAX_COLUMNS", 1000)
CSP_IMPORT_MAX_CELLS = env_int("CSP_IMPORT_MAX_CELLS", 20_000_000)
CSP_IMPORT_MAX_SHARED_STRINGS_MB = env_int("CSP_IMPORT_MAX_SHARED_STRINGS_MB", 100)
# Mappings offered on the upload page (besides an uploaded YAML file).
CSP_MAPPINGS_DIR = Path(env_str("CSP_MAPPINGS_DIR", str(PROJECT_DIR / "examples" / "mappings")))

# E-mail (the weekly digest of overdue and at-risk actions): printed on the console unless a
# backend is set, e.g. CSP_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend.
EMAIL_BACKEND = env_str("CSP_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("CSP_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("CSP_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("CSP_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("CSP_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("CSP_EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("CSP_EMAIL_FROM", "CSP Hub <csp-hub@localhost>")
# Links in e-mails point here (the address users open the site at).
CSP_SITE_URL = env_str("CSP_SITE_URL", "http://127.0.0.1:8000")

# The job runner (django-q2, its queue in the database: no Redis). `csp qcluster` runs the
# scheduled jobs: the weekly digest (docs/operations.md).
Q_CLUSTER = {
    "name": "csp",
    "orm": "default",
    "workers": 1,
    "timeout": 600,
    "retry": 900,
    "catch_up": False,
    "max_attempts": 1,
    "save_limit": 200,
    "label": "Job runner",
}

# Sign-in and sessions (SECURITY.md settled choice 3): 30 minutes idle, 10 hours at most.
LOGIN_URL = "core:sign_in"
LOGIN_REDIRECT_URL = "core:home"
SESSION_COOKIE_AGE = env_int("CSP_SESSION_IDLE_MINUTES", 30) * 60
CSP_SESSION_MAX_HOURS = env_int("CSP_SESSION_MAX_HOURS", 10)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Sign-in limits (django-axes, docs/access-control.md): failures are counted per user name
# from one address (CSP_SIGN_IN_MAX_FAILURES) and per address whatever the user name
# (CSP_SIGN_IN_MAX_FAILURES_PER_ADDRESS, which stops one password tried against many names);
# either pauses signing in from that address for CSP_SIGN_IN_LOCK_MINUTES. Nobody can pause
# a user's sign-in from the user's own address.
CSP_SIGN_IN_MAX_FAILURES = env_int("CSP_SIGN_IN_MAX_FAILURES", 6)
CSP_SIGN_IN_MAX_FAILURES_PER_ADDRESS = env_int("CSP_SIGN_IN_MAX_FAILURES_PER_ADDRESS", 20)
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

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "csp_platform.core.sign_in.SignInLimits"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_FAILURE_LIMIT = CSP_SIGN_IN_MAX_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=CSP_SIGN_IN_LOCK_MINUTES)
AXES_RESET_ON_SUCCESS = True  # of that user name from that address only (core/sign_in.py)
AXES_LOCKOUT_CALLABLE = "csp_platform.core.sign_in.paused_response"
AXES_USERNAME_CALLABLE = "csp_platform.core.sign_in.username_key"
# The client address is the socket's (REMOTE_ADDR), or behind one of CSP_TRUSTED_PROXIES the
# address that proxy forwarded: a forwarded-for header from anyone else is not trusted.
AXES_CLIENT_IP_CALLABLE = "csp_platform.core.audit.client_address"
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
AXES_VERBOSE = False  # our own structured events go to the csp.security logger

# Second factor (django-otp): TOTP in an authenticator app, and recovery codes.
OTP_TOTP_ISSUER = env_str("CSP_OTP_ISSUER", "CSP Hub")
CSP_RECOVERY_CODES = 10

# Behind TLS (production, docs/operations.md): secure cookies, HSTS, HTTPS only. The proxy
# must set X-Forwarded-Proto (and drop any the client sent).
CSP_SECURE_COOKIES = env_bool("CSP_SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = CSP_SECURE_COOKIES
if CSP_SECURE_COOKIES:
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
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
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # Security events: one JSON object a line, so a line feed in a user name cannot
        # start a forged line (core/security_log.py).
        "json": {"()": "csp_platform.core.security_log.JsonLines"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "security": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "loggers": {
        "csp.security": {"handlers": ["security"], "level": "INFO", "propagate": False},
        # django-axes' own lines repeat our sign-in events with the names masked.
        "axes": {"level": "ERROR"},
    },
    "root": {"handlers": ["console"], "level": env_str("CSP_LOG_LEVEL", "WARNING")},
}
