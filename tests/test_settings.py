"""Start-up configuration: secrets are required in production, defaulted (loudly) in development."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRETS = ("SECRET_KEY", "BETTER_AUTH_SECRET", "JWT_SECRET")


def run_check(**env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in SECRETS}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "ironclad.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


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
    script = "import json; from django.conf import settings; print(json.dumps(settings.DATABASES['default']))"
    clean = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "ironclad.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


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
