"""Trellis settings: one module, configured from the environment (django-environ).

Every variable read here is documented in the README's configuration table. With
``DATABASE_URL`` / ``REDIS_URL`` unset, the embedded development services in
``config/devservices.py`` are started on demand.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(str(env_file))

TESTING = "pytest" in sys.modules or os.environ.get("TRELLIS_TESTING") == "1"
# Test processes (pytest-xdist workers, or two suites at once) must not share queues,
# caches or databases: each gets its own, named after its process.
_TEST_RUN = f"{os.getpid()}"
_XDIST_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)

# ---------------------------------------------------------------- services
EMBEDDED_DATABASE = not env.str("DATABASE_URL", default="")
EMBEDDED_REDIS = not env.str("REDIS_URL", default="")

if EMBEDDED_DATABASE or EMBEDDED_REDIS:
    from config import devservices

if EMBEDDED_DATABASE:
    devservices.ensure_postgres()
    _db_runtime, _db_owner = devservices.postgres_settings()
else:
    _db_runtime = env.db_url_config(env.str("DATABASE_URL"))
    _db_owner = env.db_url_config(env.str("DATABASE_OWNER_URL", default=env.str("DATABASE_URL")))
# Another database on the same server and roles (the benchmark's `trellis_bench`).
if env.str("DATABASE_NAME", default=""):
    _db_runtime["NAME"] = _db_owner["NAME"] = env.str("DATABASE_NAME")

if EMBEDDED_REDIS:
    devservices.ensure_redis()
    # Tests use their own Redis databases so a running `make run` worker never eats their tasks.
    REDIS_URL = devservices.redis_url(db=1 if TESTING else 0)
    _BROKER_URL = devservices.celery_broker_url(db=1 if TESTING else 0)
    _CACHE_REDIS_URL = devservices.redis_url(db=(4 + _XDIST_INDEX % 12) if TESTING else 2)
else:
    REDIS_URL = env.str("REDIS_URL")
    _BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    _CACHE_REDIS_URL = env.str("CACHE_URL", default=REDIS_URL)

# Development defaults follow from running on the embedded services.
DEBUG = env.bool("DEBUG", default=EMBEDDED_DATABASE)

_secret_file = BASE_DIR / ".data" / "secret_key"
if env.str("SECRET_KEY", default=""):
    SECRET_KEY = env.str("SECRET_KEY")
elif DEBUG or TESTING:
    _secret_file.parent.mkdir(parents=True, exist_ok=True)
    if not _secret_file.exists():
        _secret_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = _secret_file.read_text().strip()
else:
    raise RuntimeError("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# ---------------------------------------------------------------- apps
INSTALLED_APPS = [
    "partners.apps.TrellisAdminConfig",  # django.contrib.admin on the tenant-scoped site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "csp",
    "django_htmx",
    "django_celery_beat",
    "simple_history",
    "partners",
    "onboarding",
    "deals",
    "revenue",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "partners.middleware.TenantMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "portal_templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "partners.context_processors.tenancy",
            ],
        },
    },
]

# ---------------------------------------------------------------- database
DATABASES = {"default": _db_runtime}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if TESTING:
    DATABASES["default"]["TEST"] = {"NAME": f"test_trellis_{_TEST_RUN}"}
# The owner's credentials are used only by `migrate` and by the test database set-up.
DATABASE_OWNER = _db_owner
# NOLOGIN BYPASSRLS role granted to the runtime role, used only by the operator escape hatch.
DATABASE_OPS_ROLE = env.str("DATABASE_OPS_ROLE", default="trellis_ops")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------- auth
AUTH_USER_MODEL = "partners.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "partners.permissions.MembershipBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/accounts/tenants/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60 * 24)
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)
ANONYMOUS_USER_NAME = None  # django-guardian: no anonymous user row
GUARDIAN_MONKEY_PATCH_USER = False

# django-axes: lock an email+address pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# authenticate() is called with username=<email> (the login form, the token API); axes would
# otherwise look for an "email" credential (USERNAME_FIELD) and record every failure as None.
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
# The lockout page for pages; the API's JSON error body (429) under /api/.
AXES_LOCKOUT_CALLABLE = "partners.api.errors.lockout_response"

# ---------------------------------------------------------------- sessions and security
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    if env.bool("USE_X_FORWARDED_PROTO", default=True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# django-csp 4: everything from our own origin; no inline script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# ---------------------------------------------------------------- email
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.console.EmailBackend"
        if DEBUG
        else "django.core.mail.backends.smtp.EmailBackend"
    ),
)
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Trellis <no-reply@trellis.test>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# ---------------------------------------------------------------- cache and Redis
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _CACHE_REDIS_URL,
        "KEY_PREFIX": "trellis-test" if TESTING else "trellis",
    }
}

# ---------------------------------------------------------------- Celery
CELERY_BROKER_URL = _BROKER_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "config.beat:DefaultsOnlyDatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_DEFAULT_QUEUE = f"trellis-test-{_TEST_RUN}" if TESTING else "trellis"
OUTBOX_SWEEP_SECONDS = env.int("OUTBOX_SWEEP_SECONDS", default=60)
# Installed into django-celery-beat's tables by its scheduler when missing (config/beat.py), then
# edited in the admin: an edit survives restarts.
CELERY_BEAT_SCHEDULE = {
    "sweep-outbox": {"task": "partners.sweep_outbox", "schedule": OUTBOX_SWEEP_SECONDS},
    # Rules of engagement: expire registrations past protection, warn before (per tenant).
    "deal-rules": {"task": "deals.run_deal_rules", "schedule": 3600},
    # Leads: time out offers past the response SLA and move their leads on (per tenant).
    "lead-offers": {"task": "deals.sweep_lead_offers", "schedule": 300},
    # Tier engine: nightly at 02:00 UTC, every active tenant (partners.tier_engine).
    "tier-engine": {"task": "partners.run_tier_engine", "schedule": crontab(minute=0, hour=2)},
}

# ---------------------------------------------------------------- REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "partners.api.authentication.MembershipTokenAuthentication",
        "partners.api.authentication.TenantSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["partners.api.permissions.IsTenantMember"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Cursor pagination by each view's stable key (DRF's default key, "-created", is no field).
    "DEFAULT_PAGINATION_CLASS": "partners.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "partners.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
        "token_create": env.str("API_THROTTLE_TOKEN_CREATE", default="10/min"),
    },
    "EXCEPTION_HANDLER": "partners.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Trellis API",
    "DESCRIPTION": (
        "The Trellis partner relationship management API. Authenticate with "
        "`Authorization: Token <key>` (create one at POST /api/v1/auth/token/). "
        "Pages of the portal and the console call the same endpoints under "
        "`/t/<tenant slug>/api/v1/` with their session cookie and a CSRF header. "
        "Errors have one body: `{code, message, fields}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Tags and operation ids from the resource ("memberships_list"), not the version prefix.
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # Choice sets whose field names collide with other sets ("status", "role") get their own
    # component names, so --fail-on-warn stays clean as apps add endpoints.
    "ENUM_NAME_OVERRIDES": {
        "DealStatusEnum": "deals.models.DealStatus",
        "DealPartnerRoleEnum": "deals.models.PartnerRole",
        "LeadStatusEnum": "deals.models.LeadStatus",
        "LeadOfferStatusEnum": "deals.models.OfferStatus",
        "RoleEnum": "partners.roles.Role",
        "PartnerStatusEnum": "partners.models.PartnerStatus",
        "TierProposalStatusEnum": "partners.tiers.TierProposalStatus",
    },
}

# ---------------------------------------------------------------- i18n and static
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en-us")
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static", BASE_DIR / ".assets"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media")))
MEDIA_URL = "/media/"

# ---------------------------------------------------------------- logging
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
