"""Ironclad settings: one module, driven by the environment (see .env.example).

With DEBUG off every secret must come from the environment; with DEBUG on a
development default is used and a warning is printed.
"""

import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

from ironclad import __version__, tracing
from ironclad.env import PROJECT_DIR, env

BASE_DIR = PROJECT_DIR

DEBUG = env.bool("DEBUG", default=False)
VERSION = __version__

# .env.example's values for the secrets begin with this: a copied file must not reach production.
PLACEHOLDER_SECRET_PREFIX = "change-me"  # noqa: S105 - a value refused, not used
# The shortest secret taken with DEBUG off: better-auth's own minimum for its secret in production.
SECRET_MIN_LENGTH = 32


def _long_enough(name: str, value: str) -> str:
    if value and not DEBUG and len(value) < SECRET_MIN_LENGTH:
        raise ImproperlyConfigured(
            f"{name} is {len(value)} characters long: with DEBUG off it must be at least "
            f"{SECRET_MIN_LENGTH}. Make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'` or `openssl rand -base64 32`."
        )
    return value


def _secret(name: str) -> str:
    value = env.str(name, default="")
    if not DEBUG and value.startswith(PLACEHOLDER_SECRET_PREFIX):
        raise ImproperlyConfigured(
            f"{name} is still the example value from .env.example. Set a real one in the "
            "environment; it is required when DEBUG is off."
        )
    if value:
        return _long_enough(name, value)
    if not DEBUG:
        raise ImproperlyConfigured(
            f"{name} is not set. Set it in the environment (see .env.example); "
            "it is required when DEBUG is off."
        )
    print(f"WARNING: {name} is not set; using an insecure development value (DEBUG is on).", file=sys.stderr)
    return f"insecure-development-{name.lower()}-do-not-use-in-production"


def _origin(name: str, url: str) -> str:
    """The origin of an http(s) URL as a WHATWG URL parser gives it (better-auth's `new URL().origin`,
    the MCP SDK's): lower-case scheme and host, IDN as punycode, no default port. A URL with a
    user name, a password, a query or a fragment is refused."""
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if "@" in parts.netloc:  # not echoed: it may hold a password
        raise ImproperlyConfigured(f"{name} must not carry a user name or password.")
    if parts.scheme.lower() not in ("http", "https") or not host or parts.query:
        raise ImproperlyConfigured(f"{name} must be an http(s) URL, not {url!r}.")
    if "#" in url:
        raise ImproperlyConfigured(f"{name} must be an http(s) URL without a fragment, not {url!r}.")
    scheme = parts.scheme.lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ImproperlyConfigured(f"{name} has a host name that cannot be used: {url!r}.") from None
    if ":" in host:
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default_port else "")


def _malformed_netloc(url: str) -> bool:
    """Whether a password holding @, /, # or ? (not percent-encoded) has split `url` elsewhere than
    its writer meant: a part of the password would be read as the host or the port, and quoted."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises when the text after the last ':' is not a number
    except ValueError:
        return True
    return parts.netloc.count("@") > 1


def _at_least(name: str, default: int, minimum: int) -> int:
    value = env.int(name, default=default)
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


SECRET_KEY = _secret("SECRET_KEY")
BETTER_AUTH_SECRET = _secret("BETTER_AUTH_SECRET")
# HS256 JWTs are signed with JWT_SECRET, or with BETTER_AUTH_SECRET when it is not set.
JWT_SECRET = _long_enough("JWT_SECRET", env.str("JWT_SECRET", default="")) or BETTER_AUTH_SECRET

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if DEBUG else ["localhost", "127.0.0.1", "[::1]"])

# --- Applications -----------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks_db",
    "accounts",
    "todos",
    "chat",
    "idempotency",
    "agents",
    "operations",
    "webhooks",
]

MIDDLEWARE = [
    # First, so every response (redirects and CORS preflights included) has its id and log line.
    "ironclad.middleware.RequestLogMiddleware",
    # Then every request is counted for /metrics, with its status, duration and statements.
    "ironclad.metrics.MetricsMiddleware",
    # Answers to signed-in requests are private: no shared cache keeps them.
    "ironclad.middleware.PrivateAnswersMiddleware",
    # Then a NUL in the path, query string or cookies is refused before anything reads them.
    "ironclad.middleware.UntrustedInputMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "ironclad.body_length.BodyLengthMiddleware",  # before anything reads a body; errors get CORS
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that a statement past the deadline in any view gets its 503.
    "ironclad.middleware.DatabaseDeadlineMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
# Routes answer with and without a trailing slash themselves; never redirect.
APPEND_SLASH = False

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
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# DATABASE_URL wins; NEON_DB_URL is accepted as an alias; SQLite is the embedded default.

# The variable that names the database, for messages: the one set, or the one to set.
DATABASE_URL_NAME = next(
    (name for name in ("DATABASE_URL", "NEON_DB_URL") if env.str(name, default="")), "DATABASE_URL"
)
DATABASE_URL = env.str(DATABASE_URL_NAME, default="")
_scheme = urlsplit(DATABASE_URL).scheme if DATABASE_URL else "sqlite"
if _scheme not in ("postgres", "postgresql", "pgsql", "psql", "sqlite"):  # the drivers installed
    raise ImproperlyConfigured(
        f"{DATABASE_URL_NAME} has the scheme {_scheme!r}, which is not supported: use postgres:// "
        "(or postgresql://, sqlite:///...)."
    )
if _scheme != "sqlite" and _malformed_netloc(DATABASE_URL):  # never echoed: it holds the password
    raise ImproperlyConfigured(
        f"{DATABASE_URL_NAME} cannot be read: percent-encode its user name and password (@ as %40, "
        "/ as %2F, : as %3A, # as %23, ? as %3F)."
    )
DATABASES = {"default": env.db_url_config(DATABASE_URL or f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}

# Seconds a PostgreSQL connection may sit idle before its next use is health-checked (0: always).
DATABASE_HEALTH_CHECK_IDLE_SECONDS = env.float("DATABASE_HEALTH_CHECK_IDLE_SECONDS", default=1.0)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A transaction takes SQLite's write lock when it begins, and waits its turn for it: one that
    # read before writing would otherwise be refused at once ("database is locked") while another
    # writes, and answer 503 (tests/test_sqlite_writers.py).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("transaction_mode", "IMMEDIATE")

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _db = DATABASES["default"]
    _db["ENGINE"] = "ironclad.database"  # Django's backend, health checks skipped on busy connections
    _connect_timeout = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    _db.setdefault("OPTIONS", {})
    # Fail fast when the server is unreachable: /health must answer 503, not hang.
    _db["OPTIONS"].setdefault("connect_timeout", _connect_timeout)
    # Transaction-mode poolers (Neon's pooled endpoint, PgBouncer) cannot keep
    # server-side cursors open between statements.
    _db["DISABLE_SERVER_SIDE_CURSORS"] = env.bool("DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False)
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        # Plans the task list once per connection (docs/performance.md). A transaction-mode
        # pooler must support prepared statements (PgBouncer >= 1.21; Neon's pooled endpoint does).
        _db["OPTIONS"]["server_side_binding"] = True
        _db["OPTIONS"]["prepare_threshold"] = 5
    if env.bool("DATABASE_POOL", default=False):
        # psycopg's pool keeps and checks the connections; Django requires CONN_MAX_AGE=0 with it.
        _db["CONN_MAX_AGE"] = 0
        _db["OPTIONS"]["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
            "timeout": _connect_timeout,
        }
    else:
        # One persistent connection per worker.
        _db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=600)
    # Checked before reuse, so a database restart costs no failed request. With the pool this is
    # what makes Django hand psycopg's pool a `check`: without it the pool gave out dead connections.
    _db["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Django's own users (operators of the admin) -------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -----------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files (admin and API docs), served by WhiteNoise -----------------

STATIC_URL = "static/"
# Filled by `collectstatic` (at image build; bin/docker-entrypoint.sh runs it when the manifest is missing).
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_COLLECTED = (STATIC_ROOT / "staticfiles.json").is_file()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Content-hashed names (admin/css/base.<hash>.css), so WhiteNoise serves them with a
    # far-future, immutable Cache-Control; gzip copies made at collectstatic time.
    "staticfiles": {"BACKEND": "ironclad.staticfiles.StaticFilesStorage"},
}
# Started without collectstatic (the server command run directly), the admin and /api/docs still
# work: their files are served from the apps, unhashed and uncompressed (config/wsgi.py warns).
WHITENOISE_USE_FINDERS = not STATIC_COLLECTED

# --- better-auth and tokens ---------------------------------------------------

BETTER_AUTH_COOKIE_PREFIX = env.str("BETTER_AUTH_COOKIE_PREFIX", default="better-auth")
# better-auth's bearer plugin accepts raw session tokens unless requireSignature is on.
BETTER_AUTH_BEARER_REQUIRE_SIGNATURE = env.bool("BETTER_AUTH_BEARER_REQUIRE_SIGNATURE", default=False)
# Where the jwt plugin's public keys come from: this URL when set, else the `jwks` table.
BETTER_AUTH_JWKS_URL = env.str("BETTER_AUTH_JWKS_URL", default="")
BETTER_AUTH_JWKS_CACHE_SECONDS = env.int("BETTER_AUTH_JWKS_CACHE_SECONDS", default=300)
# An unknown `kid` refetches the JWKS URL at most once per cooldown (rotation vs. abuse).
BETTER_AUTH_JWKS_REFRESH_COOLDOWN = env.int("BETTER_AUTH_JWKS_REFRESH_COOLDOWN", default=30)
# The front end's better-auth, as its own BETTER_AUTH_URL names it: its origin
# (https://app.example.com) or its full base URL (https://app.example.com/api/auth). Every JWT's
# issuer and audience are checked against what better-auth derives from the same string
# (docs/better-auth.md): its origin, normalised, and its base URL, the string as given when it has a
# path (a custom basePath), else with /api/auth added.
BETTER_AUTH_URL = env.str("BETTER_AUTH_URL", default="").strip()
BETTER_AUTH_ORIGIN = _origin("BETTER_AUTH_URL", BETTER_AUTH_URL) if BETTER_AUTH_URL else ""
BETTER_AUTH_BASE_URL = BETTER_AUTH_URL
if BETTER_AUTH_URL and not urlsplit(BETTER_AUTH_URL).path.strip("/"):
    BETTER_AUTH_BASE_URL = f"{BETTER_AUTH_URL.rstrip('/')}/api/auth"
# `iss` and `aud` of every JWT the API accepts: the jwt plugin's jwt.issuer and jwt.audience, which
# default to better-auth's origin. Without BETTER_AUTH_URL, only Ironclad's own tokens (issue_token)
# name "ironclad"; a jwt-plugin token is then refused.
_JWT_ISSUER_SET = env.str("JWT_ISSUER", default="")
JWT_ISSUER = _JWT_ISSUER_SET or BETTER_AUTH_ORIGIN or "ironclad"
JWT_AUDIENCE = env.str("JWT_AUDIENCE", default="") or BETTER_AUTH_ORIGIN or "ironclad"
# OAuth access tokens (the oauth-provider plugin's) are issued by jwt.issuer when it is set, else
# by better-auth's base URL; their audience is the resource they are for.
OAUTH_ISSUER = (_JWT_ISSUER_SET or BETTER_AUTH_BASE_URL) if BETTER_AUTH_URL else ""
# /mcp's public URL, the OAuth resource MCP clients get tokens for (RFC 8707), as better-auth's
# oauthProvider `resources` lists it. Unset, /mcp accepts no OAuth access token. Clients send it in
# its canonical form, so only that form is taken: better-auth compares the strings.
MCP_RESOURCE_URL = env.str("MCP_RESOURCE_URL", default="").strip()
if MCP_RESOURCE_URL:
    _path = urlsplit(MCP_RESOURCE_URL).path
    _canonical = _origin("MCP_RESOURCE_URL", MCP_RESOURCE_URL) + (_path if _path.strip("/") else "/mcp")
    if _canonical != MCP_RESOURCE_URL:
        raise ImproperlyConfigured(
            f"MCP_RESOURCE_URL must be the public URL of /mcp as clients write it, "
            f"{_canonical!r}, not {MCP_RESOURCE_URL!r}."
        )

# Origins trusted for credentialed cross-origin calls and for unsafe cookie requests. In
# development the dashboard's usual address is trusted unless another is set; in production none.
FRONTEND_ORIGIN = env.str("FRONTEND_ORIGIN", default="http://localhost:3000" if DEBUG else "")
CORS_ORIGINS = env.list("CORS_ORIGINS", default=[])
TRUSTED_ORIGINS = list(dict.fromkeys(o.rstrip("/") for o in [FRONTEND_ORIGIN, *CORS_ORIGINS] if o))
CORS_ALLOWED_ORIGINS = TRUSTED_ORIGINS
CORS_ALLOW_CREDENTIALS = True
# The front end may send its own request id and read ours and the throttle's wait; send
# Idempotency-Key and conditions, and read ETags and replays (docs/api.md); a browser's MCP client
# sends MCP's headers and reads the 401's challenge.
CORS_ALLOW_HEADERS = (
    *default_headers,
    "x-request-id",
    "idempotency-key",
    "if-match",
    "if-none-match",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
)
CORS_EXPOSE_HEADERS = ["X-Request-ID", "Retry-After", "WWW-Authenticate", "ETag", "Idempotent-Replayed"]
# The API, the MCP endpoint and its metadata (a browser-based MCP client reads both).
CORS_URLS_REGEX = r"^/(api/.*|mcp/?|\.well-known/oauth-protected-resource(/mcp)?/?)$"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Security (production defaults when DEBUG is off) ------------------------

if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# One switch for the site's scheme: with HTTPS_ONLY (the default when DEBUG is off) plain HTTP is
# redirected, HSTS is sent and cookies are Secure. HTTPS_ONLY=false serves plain HTTP (a laptop,
# compose on localhost). Each setting below can still be set on its own.
HTTPS_ONLY = env.bool("HTTPS_ONLY", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS_ONLY)
SECURE_REDIRECT_EXEMPT = [r"^health/?$", r"^metrics/?$"]  # probes and scrapers use plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=2_592_000 if HTTPS_ONLY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS_ONLY)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS_ONLY)

# --- Chat assistant -----------------------------------------------------------

# "offline": the built-in English command interpreter (needs nothing); "openai": any
# OpenAI-compatible chat completions API with tool calling.
CHAT_PROVIDER = env.str("CHAT_PROVIDER", default="offline")
if CHAT_PROVIDER not in ("offline", "openai"):
    raise ImproperlyConfigured(f"CHAT_PROVIDER must be 'offline' or 'openai', not {CHAT_PROVIDER!r}.")
# How many earlier messages of a conversation the assistant reads with each new one.
CHAT_HISTORY_LIMIT = env.int("CHAT_HISTORY_LIMIT", default=20)
CHAT_OPENAI_BASE_URL = env.str("CHAT_OPENAI_BASE_URL", default="")
CHAT_OPENAI_API_KEY = env.str("CHAT_OPENAI_API_KEY", default="")
CHAT_OPENAI_MODEL = env.str("CHAT_OPENAI_MODEL", default="gpt-4o-mini")
# Seconds for the whole reply, every model call and tool round included.
CHAT_OPENAI_TIMEOUT = env.float("CHAT_OPENAI_TIMEOUT", default=30.0)
CHAT_MAX_TOOL_ROUNDS = env.int("CHAT_MAX_TOOL_ROUNDS", default=5)
# Tool calls one reply may make in all (each is recorded with the reply): further ones are not run.
CHAT_MAX_TOOL_CALLS = _at_least("CHAT_MAX_TOOL_CALLS", 20, 1)

# --- Clients that retry and sync (docs/api.md) ----------------------------------

# How long the change feed keeps deletions (tombstones); `manage.py upkeep` purges older ones, and
# a cursor from before them gets 410 cursor_expired (the client syncs again from the start).
CHANGE_TOMBSTONE_DAYS = env.int("CHANGE_TOMBSTONE_DAYS", default=30)
if CHANGE_TOMBSTONE_DAYS < 1:
    raise ImproperlyConfigured(f"CHANGE_TOMBSTONE_DAYS must be at least 1, not {CHANGE_TOMBSTONE_DAYS}.")

# --- Events: webhooks, reminders and the worker (docs/webhooks.md) -------------

# Background work runs on Django's tasks framework, kept in the database (django-tasks-db), and
# is run by `manage.py worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Webhook URLs must be https to a public address; true also allows http and private, loopback
# and link-local addresses (development and tests only: the worker could then reach this
# machine's own services).
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
# Seconds one delivery may take, connecting and sending and reading the answer.
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
if not 0 < WEBHOOK_TIMEOUT <= 60:
    raise ImproperlyConfigured(f"WEBHOOK_TIMEOUT must be above 0 and at most 60, not {WEBHOOK_TIMEOUT}.")
# Seconds to wait after each failure in a row before trying the webhook again; past the last,
# the last again. A delivery is given up WEBHOOK_RETRY_HOURS after its event.
WEBHOOK_RETRY_SCHEDULE = [
    float(seconds)
    for seconds in env.list("WEBHOOK_RETRY_SCHEDULE", default=["5", "300", "1800", "7200", "18000", "36000"])
]
if not WEBHOOK_RETRY_SCHEDULE or any(not 0 <= seconds <= 86_400 for seconds in WEBHOOK_RETRY_SCHEDULE):
    raise ImproperlyConfigured("WEBHOOK_RETRY_SCHEDULE must list seconds, each from 0 to 86400.")
WEBHOOK_RETRY_HOURS = env.float("WEBHOOK_RETRY_HOURS", default=28.0)
# A webhook that has failed on end for this many days is disabled (and says why).
WEBHOOK_DISABLE_AFTER_DAYS = env.float("WEBHOOK_DISABLE_AFTER_DAYS", default=5.0)
# Events and deliveries older than this are deleted by `manage.py upkeep`; of each webhook's finished
# deliveries, only the newest WEBHOOK_KEPT_DELIVERIES are kept (the worker deletes the others).
WEBHOOK_HISTORY_DAYS = _at_least("WEBHOOK_HISTORY_DAYS", 7, 2)
WEBHOOK_KEPT_DELIVERIES = _at_least("WEBHOOK_KEPT_DELIVERIES", 1000, 1)
# A rotated secret still signs (beside the new one) for this many hours.
WEBHOOK_PREVIOUS_SECRET_HOURS = env.float("WEBHOOK_PREVIOUS_SECRET_HOURS", default=24.0)
# The worker: how many deliveries it sends at once (threads), and how often it looks for work.
WORKER_THREADS = _at_least("WORKER_THREADS", 4, 1)
WORKER_POLL_SECONDS = env.float("WORKER_POLL_SECONDS", default=1.0)
if not 0.05 <= WORKER_POLL_SECONDS <= 60:
    raise ImproperlyConfigured(f"WORKER_POLL_SECONDS must be from 0.05 to 60, not {WORKER_POLL_SECONDS}.")
# A reminder the worker finds later than this (it was stopped) is dropped, not sent late.
REMINDER_LATE_HOURS = env.float("REMINDER_LATE_HOURS", default=24.0)
# A sent reminder's event is what says it was sent: upkeep must not delete it while it could be due.
if not 0 < REMINDER_LATE_HOURS < 24 * WEBHOOK_HISTORY_DAYS:
    raise ImproperlyConfigured(
        "REMINDER_LATE_HOURS must be above 0 and below WEBHOOK_HISTORY_DAYS in hours, "
        f"not {REMINDER_LATE_HOURS}."
    )

# --- Limits -------------------------------------------------------------------


def _rate(name: str, default: str, *, multiples: bool = False) -> str | None:
    """A request rate such as "600/min" (per s, min, hour or day); "off" turns the limit off.
    With `multiples`, per a number of them too: "5/15min"."""
    value = env.str(name, default=default).strip()
    if value.lower() == "off":
        return None
    multiple = r"([1-9]\d*)?" if multiples else ""
    if not re.fullmatch(rf"\d+/{multiple}(s|sec|m|min|h|hour|d|day)", value):
        example = "5/15min" if multiples else "600/min"
        raise ImproperlyConfigured(f"{name} must be a rate such as {example}, or off, not {value!r}.")
    return value


# Per signed-in user, per client IP for anonymous requests, and a stricter one for /api/chat.
THROTTLE_USER_RATE = _rate("THROTTLE_USER_RATE", "600/min")
THROTTLE_ANON_RATE = _rate("THROTTLE_ANON_RATE", "60/min")
THROTTLE_CHAT_RATE = _rate("THROTTLE_CHAT_RATE", "30/min")
# Wrong passwords at /admin/login/ per username and per client IP; past them, 429 until the window
# ends, even for the right password (accounts/admin_login.py).
THROTTLE_ADMIN_LOGIN_USERNAME_RATE = _rate("THROTTLE_ADMIN_LOGIN_USERNAME_RATE", "5/15min", multiples=True)
THROTTLE_ADMIN_LOGIN_IP_RATE = _rate("THROTTLE_ADMIN_LOGIN_IP_RATE", "20/15min", multiples=True)
# How many proxies in front of the app append to X-Forwarded-For; 0 trusts only REMOTE_ADDR.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
# Throttle counts (and cached signing keys) live here: by default in each process's memory; a
# Redis URL (redis://host:6379/0) shares them between workers and servers.
CACHES = {"default": env.cache_url_config(env.str("CACHE_URL", default="") or "locmemcache://")}
# Each worker remembers the credentials it verified (a session token's session and user, a JWT's
# claims and user) for up to this many seconds, so that a signed-out session or a deleted user
# stops working within it (docs/better-auth.md#revocation). At most better-auth's own cookie cache
# (5 minutes); 0 turns it off.
CREDENTIAL_CACHE_SECONDS = env.int("CREDENTIAL_CACHE_SECONDS", default=60)
if not 0 <= CREDENTIAL_CACHE_SECONDS <= 300:
    raise ImproperlyConfigured(
        f"CREDENTIAL_CACHE_SECONDS must be from 0 to 300, not {CREDENTIAL_CACHE_SECONDS}."
    )
CACHES["credentials"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "ironclad-credentials",
    # Entries are a few kB: 10,000 stay within a worker's memory budget.
    "OPTIONS": {"MAX_ENTRIES": 10_000},
}
# /metrics (Prometheus) answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is off.
METRICS_TOKEN = _long_enough("METRICS_TOKEN", env.str("METRICS_TOKEN", default=""))
# Larger bodies are refused (413) before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BODY_BYTES", default=1024 * 1024)


# How many of each one account may keep (409 quota_exceeded past it; accounts/quotas.py). Messages
# are those the user sends: each has at most one reply from the assistant.
QUOTAS = {
    "tasks": _at_least("QUOTA_TASKS", 10_000, 1),
    "categories": _at_least("QUOTA_CATEGORIES", 200, 1),
    "conversations": _at_least("QUOTA_CONVERSATIONS", 1_000, 1),
    "messages": _at_least("QUOTA_MESSAGES", 10_000, 1),
    "webhooks": _at_least("QUOTA_WEBHOOKS", 10, 1),
}
# Answers kept for Idempotency-Key (idempotency/services.py): the largest one kept, and all of one
# user's together (each counted with 1 KiB more for its key and row: idempotency.services.ROW_BYTES).
IDEMPOTENCY_ANSWER_MAX_BYTES = _at_least("IDEMPOTENCY_ANSWER_MAX_BYTES", 64 * 1024, 1024)
IDEMPOTENCY_USER_MAX_BYTES = _at_least("IDEMPOTENCY_USER_MAX_BYTES", 8 * 1024 * 1024, 0)
if IDEMPOTENCY_USER_MAX_BYTES < 2 * IDEMPOTENCY_ANSWER_MAX_BYTES:
    raise ImproperlyConfigured(
        "IDEMPOTENCY_USER_MAX_BYTES must hold at least two of the largest answers "
        f"(2 x IDEMPOTENCY_ANSWER_MAX_BYTES = {2 * IDEMPOTENCY_ANSWER_MAX_BYTES})."
    )
# Seconds any statement a request runs may take on PostgreSQL (statement_timeout): past it, 503
# database_timeout (ironclad/database). 0 turns the deadline off.
DATABASE_STATEMENT_TIMEOUT = env.float("DATABASE_STATEMENT_TIMEOUT", default=5.0)
if DATABASE_STATEMENT_TIMEOUT < 0:
    raise ImproperlyConfigured(
        f"DATABASE_STATEMENT_TIMEOUT must be 0 or more, not {DATABASE_STATEMENT_TIMEOUT}."
    )

# --- REST framework -----------------------------------------------------------

REST_FRAMEWORK = {
    # One class per credential; the bearer ones first, so that a bearer decides when present.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "accounts.authentication.BearerSessionAuthentication",
        "accounts.authentication.SessionCookieAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["ironclad.envelopes.EnvelopeJSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "ironclad.envelopes.SingleRendererNegotiation",
    "DEFAULT_PARSER_CLASSES": ["ironclad.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [
        "ironclad.throttling.AnonRateThrottle",
        "ironclad.throttling.UserRateThrottle",
        "ironclad.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": THROTTLE_USER_RATE,
        "anon": THROTTLE_ANON_RATE,
        "chat": THROTTLE_CHAT_RATE,
    },
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_PAGINATION_CLASS": "ironclad.pagination.PageNumberPagination",
    "DEFAULT_SCHEMA_CLASS": "ironclad.openapi.EnvelopeAutoSchema",
    "EXCEPTION_HANDLER": "ironclad.errors.exception_handler",
    "PAGE_SIZE": 20,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Ironclad API",
    "DESCRIPTION": "Tasks, categories and a chat assistant for people signed in with better-auth.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs are public; a stale cookie must not turn them into a 401.
    "SERVE_AUTHENTICATION": [],
    # A string that may not be blank says so (minLength 1), as the server refuses it.
    "ENFORCE_NON_BLANK_FIELDS": True,
    "PREPROCESSING_HOOKS": ["ironclad.openapi.canonical_paths"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ironclad.openapi.closed_objects",
    ],
    "ENUM_NAME_OVERRIDES": {
        "BulkActionEnum": "todos.services.BulkAction",
        "ChangeTypeEnum": "todos.models.ChangeKind",
        "EventTypeEnum": "webhooks.models.EventType",
        "DeliveryStatusEnum": "webhooks.models.DeliveryStatus",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging ------------------------------------------------------------------

# One line per request on the "ironclad.requests" logger (ironclad/middleware.py); every line
# logged while a request is served carries its id.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'text' or 'json', not {LOG_FORMAT!r}.")
# OpenTelemetry traces (ironclad/tracing.py): on when the standard OTEL_* variables ask for them.
TRACING = tracing.wanted()
if TRACING:
    tracing.check()
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "ironclad.logs.RequestIdFilter"},
        "security_records": {"()": "ironclad.logs.SecurityRecordsWithoutTraceback"},
    },
    # Both escape control characters, so no text a client sends can start a line (ironclad.logs).
    "formatters": {
        "text": {
            "class": "ironclad.logs.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            "defaults": {"request_id": "-"},
        },
        "json": {"()": "ironclad.logs.JSONFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "security_records"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's own records reach the root's handler only: its default console handler (DEBUG on)
    # would write each of them a second time, unformatted.
    "loggers": {
        "django": {"handlers": []},
        # The MCP SDK says at INFO that it starts and stops, once per /mcp request.
        "mcp": {"level": "WARNING"},
        # Its line per request names the URL, which a webhook's may hold a token in; the worker
        # logs each delivery itself (webhooks.delivery).
        "httpx2": {"level": "WARNING"},
    },
}

if TRACING:  # every line names the trace it belongs to
    LOGGING["filters"]["trace_id"] = {"()": "ironclad.tracing.TraceIdFilter"}
    LOGGING["handlers"]["console"]["filters"].append("trace_id")
    LOGGING["formatters"]["text"]["format"] = (
        "%(asctime)s %(levelname)s %(name)s [%(request_id)s trace=%(trace_id)s] %(message)s"
    )
    LOGGING["formatters"]["text"]["defaults"]["trace_id"] = "-"
