"""Start-up configuration: secrets are required in production, defaulted (loudly) in development."""

import subprocess

import pytest

from tests.net import ROOT, SECRETS, env_example, manage, settings_values

pytestmark = pytest.mark.live  # every test reads the settings in a process of its own


def run_check(**env: str) -> subprocess.CompletedProcess:
    return manage("check", **env)


@pytest.mark.parametrize("missing", ["SECRET_KEY", "BETTER_AUTH_SECRET"])
def test_production_start_up_stops_on_a_missing_secret(missing):
    present = {
        name: "a-real-secret-from-the-environment-0123456789" for name in SECRETS[:2] if name != missing
    }

    result = run_check(DEBUG="false", **present)

    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr


def test_development_start_up_warns_and_uses_a_default():
    result = run_check(DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert "WARNING: SECRET_KEY is not set" in result.stderr
    assert "WARNING: BETTER_AUTH_SECRET is not set" in result.stderr


def test_production_start_up_with_secrets_passes():
    result = run_check(DEBUG="false", SECRET_KEY="s" * 50, BETTER_AUTH_SECRET="b" * 40)

    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr


def database_settings(**env: str) -> dict:
    """settings.DATABASES["default"] as a fresh process sees it with this environment."""
    return settings_values("DATABASES", clean=("DATABASE_URL",), **env)["DATABASES"]["default"]


def test_neon_db_url_is_an_alias_for_database_url():
    db = database_settings(NEON_DB_URL="postgres://app:pw@ep-example.neon.tech:5432/neondb?sslmode=require")

    assert db["NAME"] == "neondb"
    assert db["OPTIONS"] == {
        "sslmode": "require",
        "connect_timeout": 5,
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
    assert db["CONN_MAX_AGE"] > 0 and db["CONN_HEALTH_CHECKS"] is True  # persistent, checked connections


def test_prepared_statements_can_be_turned_off_for_old_poolers():
    options = database_settings(
        DATABASE_URL="postgres://app:pw@pgbouncer.internal:6432/app", DATABASE_PREPARED_STATEMENTS="false"
    )["OPTIONS"]

    assert "server_side_binding" not in options and "prepare_threshold" not in options


@pytest.mark.parametrize("name", ["SECRET_KEY", "BETTER_AUTH_SECRET"])
def test_production_start_up_refuses_the_example_secrets(name):
    real = {secret: "a-real-secret-from-the-environment-0123456789" for secret in SECRETS[:2]}

    result = run_check(DEBUG="false", **{**real, name: env_example()[name]})

    assert result.returncode != 0
    assert f"{name} is still the example value from .env.example" in result.stderr


@pytest.mark.parametrize("name", [*SECRETS, "METRICS_TOKEN"])
def test_production_start_up_refuses_a_secret_shorter_than_32_characters(name):
    real = {secret: "a-real-secret-from-the-environment-0123456789" for secret in SECRETS[:2]}

    result = run_check(DEBUG="false", **{**real, name: "s" * 31})

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Configuration error: {name} is 31 characters long: with DEBUG off it must be at least 32. "
        "Make one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'` or "
        "`openssl rand -base64 32`."
    ]


def test_secrets_of_32_characters_pass_and_development_takes_any():
    for debug, length in (("false", 32), ("true", 3)):
        result = run_check(DEBUG=debug, **{name: "s" * length for name in SECRETS})

        assert result.returncode == 0, result.stderr
        assert "WARNING" not in result.stderr


def test_development_accepts_the_example_secrets():
    example = env_example()

    result = run_check(
        DEBUG="true", SECRET_KEY=example["SECRET_KEY"], BETTER_AUTH_SECRET=example["BETTER_AUTH_SECRET"]
    )

    assert result.returncode == 0, result.stderr


def test_every_blank_variable_means_its_default():
    """`.env.example` copied with nothing filled in but the secrets: every blank value is a default."""
    blank = dict.fromkeys(env_example(), "")
    values = settings_values(
        "DEBUG", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "DATA_UPLOAD_MAX_MEMORY_SIZE",
        "REST_FRAMEWORK", "DATABASES", "CHAT_OPENAI_TIMEOUT", "TIME_ZONE", "STATIC_ROOT", "BETTER_AUTH_URL",
        **{**blank, "SECRET_KEY": "s" * 50, "BETTER_AUTH_SECRET": "b" * 40},
    )  # fmt: skip

    assert values["DEBUG"] is False
    assert values["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert (values["SECURE_SSL_REDIRECT"], values["SECURE_HSTS_SECONDS"]) == (True, 2_592_000)
    assert values["DATA_UPLOAD_MAX_MEMORY_SIZE"] == 1024 * 1024
    assert values["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"] == {
        "user": "600/min",
        "anon": "60/min",
        "chat": "30/min",
    }
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert (values["CHAT_OPENAI_TIMEOUT"], values["TIME_ZONE"]) == (30.0, "UTC")
    assert values["STATIC_ROOT"] == str(ROOT / "staticfiles")
    assert values["BETTER_AUTH_URL"] == ""


HTTPS_SETTINGS = ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEBUG": "false"}, [True, 2_592_000, True, True]),
        ({"DEBUG": "false", "HTTPS_ONLY": "false"}, [False, 0, False, False]),
        ({"DEBUG": "true"}, [False, 0, False, False]),
        ({"DEBUG": "true", "HTTPS_ONLY": "true"}, [True, 2_592_000, True, True]),
        ({"DEBUG": "false", "HTTPS_ONLY": "false", "SECURE_HSTS_SECONDS": "60"}, [False, 60, False, False]),
    ],
    ids=["production", "plain-http", "development", "development-https", "one-overridden"],
)
def test_one_variable_switches_https_only(env, expected):
    values = settings_values(
        *HTTPS_SETTINGS,
        clean=(*HTTPS_SETTINGS, "HTTPS_ONLY"),
        SECRET_KEY="s" * 50,
        BETTER_AUTH_SECRET="b" * 40,
        **env,
    )

    assert [values[name] for name in HTTPS_SETTINGS] == expected


def test_better_auth_url_must_be_a_web_address():
    result = run_check(DEBUG="true", BETTER_AUTH_URL="app.example.com/api/auth")

    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "Configuration error: BETTER_AUTH_URL must be an http(s) URL, not 'app.example.com/api/auth'."
    )


DERIVED_FROM_BETTER_AUTH_URL = ("BETTER_AUTH_ORIGIN", "OAUTH_ISSUER", "JWT_ISSUER", "JWT_AUDIENCE")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # Each as better-auth 1.7 derives it from the same BETTER_AUTH_URL: the origin as
        # `new URL().origin` gives it (the jwt plugin's iss and aud), and the base URL, the string as
        # given when it has a path, else with /api/auth added (the oauth-provider's issuer).
        ({}, ["", "", "ironclad", "ironclad"]),
        (
            {"BETTER_AUTH_URL": "https://app.example.com"},
            ["https://app.example.com", "https://app.example.com/api/auth", "https://app.example.com", "https://app.example.com"],
        ),
        (
            {"BETTER_AUTH_URL": "https://app.example.com/"},
            ["https://app.example.com", "https://app.example.com/api/auth", "https://app.example.com", "https://app.example.com"],
        ),
        (
            {"BETTER_AUTH_URL": "https://App.Example.com:443/auth/"},
            ["https://app.example.com", "https://App.Example.com:443/auth/", "https://app.example.com", "https://app.example.com"],
        ),
        (
            {"BETTER_AUTH_URL": "http://127.0.0.1:3000", "JWT_ISSUER": "https://id.example.com"},
            ["http://127.0.0.1:3000", "https://id.example.com", "https://id.example.com", "http://127.0.0.1:3000"],
        ),
        ({"JWT_ISSUER": "https://id.example.com"}, ["", "", "https://id.example.com", "ironclad"]),
    ],
    ids=["unset", "origin", "trailing-slash", "base-path", "jwt-issuer", "jwt-issuer-alone"],
)  # fmt: skip
def test_issuers_and_audiences_are_derived_as_better_auth_derives_them(env, expected):
    values = settings_values(
        *DERIVED_FROM_BETTER_AUTH_URL,
        clean=("BETTER_AUTH_URL", "JWT_ISSUER", "JWT_AUDIENCE"),
        DEBUG="true",
        **env,
    )

    assert [values[name] for name in DERIVED_FROM_BETTER_AUTH_URL] == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BETTER_AUTH_URL": "https://me:secret@app.example.com"}, "BETTER_AUTH_URL must not carry a user"),
        ({"MCP_RESOURCE_URL": "https://API.example.com:443/mcp"}, "'https://api.example.com/mcp', not"),
        ({"MCP_RESOURCE_URL": "https://api.example.com"}, "'https://api.example.com/mcp', not"),
        ({"MCP_RESOURCE_URL": "https://api.example.com/mcp#x"}, "MCP_RESOURCE_URL must be an http(s) URL"),
    ],
    ids=["credentials-in-url", "not-canonical", "no-path", "fragment"],
)
def test_urls_that_would_never_match_a_token_are_refused_at_start(env, message):
    result = run_check(DEBUG="true", **env)

    assert result.returncode == 1
    assert message in result.stderr
    assert "me:secret" not in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QUOTA_TASKS": "0"}, "QUOTA_TASKS must be at least 1, not 0."),
        (
            {"IDEMPOTENCY_ANSWER_MAX_BYTES": "100"},
            "IDEMPOTENCY_ANSWER_MAX_BYTES must be at least 1024, not 100.",
        ),
        (
            {"IDEMPOTENCY_ANSWER_MAX_BYTES": "65536", "IDEMPOTENCY_USER_MAX_BYTES": "65536"},
            "IDEMPOTENCY_USER_MAX_BYTES must hold at least two of the largest answers",
        ),
        ({"DATABASE_STATEMENT_TIMEOUT": "-1"}, "DATABASE_STATEMENT_TIMEOUT must be 0 or more, not -1.0."),
        ({"CREDENTIAL_CACHE_SECONDS": "301"}, "CREDENTIAL_CACHE_SECONDS must be from 0 to 300, not 301."),
        ({"CREDENTIAL_CACHE_SECONDS": "-1"}, "CREDENTIAL_CACHE_SECONDS must be from 0 to 300, not -1."),
    ],
)
def test_a_bound_that_could_not_hold_stops_start_up(env, message):
    result = run_check(DEBUG="true", **env)

    assert result.returncode == 1
    assert message in result.stderr


def test_the_bounds_default_to_what_the_docs_say():
    values = settings_values(
        "QUOTAS", "IDEMPOTENCY_ANSWER_MAX_BYTES", "IDEMPOTENCY_USER_MAX_BYTES", "DATABASE_STATEMENT_TIMEOUT",
        "CREDENTIAL_CACHE_SECONDS",
        clean=(*env_example(), "CREDENTIAL_CACHE_SECONDS"), DEBUG="true",
    )  # fmt: skip

    assert values == {
        "QUOTAS": {
            "tasks": 10_000,
            "categories": 200,
            "conversations": 1_000,
            "messages": 10_000,
            "webhooks": 10,
        },
        "IDEMPOTENCY_ANSWER_MAX_BYTES": 65_536,
        "IDEMPOTENCY_USER_MAX_BYTES": 8_388_608,
        "DATABASE_STATEMENT_TIMEOUT": 5.0,
        "CREDENTIAL_CACHE_SECONDS": 60,
    }


def test_a_credential_cache_of_0_seconds_turns_it_off_and_starts():
    values = settings_values("CREDENTIAL_CACHE_SECONDS", DEBUG="true", CREDENTIAL_CACHE_SECONDS="0")

    assert values == {"CREDENTIAL_CACHE_SECONDS": 0}


@pytest.mark.parametrize(
    "url",
    [
        "postgres://iron:qqq/xyzzy@127.0.0.1:5432/app",
        "postgres://iron:qqq@xyzzy@127.0.0.1:5432/app",
        "postgres://iron:qqq#xyzzy@127.0.0.1:5432/app",
        "postgres://iron:qqq?xyzzy@127.0.0.1:5432/app",
    ],
    ids=["slash", "at", "hash", "question mark"],
)
def test_a_password_that_is_not_percent_encoded_is_one_line_that_never_quotes_it(url):
    result = run_check(DEBUG="true", DATABASE_URL=url)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "Configuration error: DATABASE_URL cannot be read: percent-encode its user name and password "
        "(@ as %40, / as %2F, : as %3A, # as %23, ? as %3F)."
    )
    assert "qqq" not in result.stderr and "xyzzy" not in result.stderr
