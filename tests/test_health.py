"""/health reports the process, the database and the migrations; plain JSON, no envelope."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db.migrations.recorder import MigrationRecorder

from ironclad import __version__, health

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health", "/health/"])
def test_healthy(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "connected",
        "version": __version__,
        "migrations": "applied",
    }


@pytest.mark.django_db
def test_is_public_even_with_a_bad_credential(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer forged")

    assert api_client.get("/health").status_code == 200


@pytest.mark.django_db
def test_pending_migrations_are_not_ok(api_client, monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)
    MigrationRecorder.Migration.objects.filter(app="accounts").delete()  # as if none had run

    response = api_client.get("/health")

    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["migrations"] == "pending"
    assert response.json()["pending_migrations"] >= 1


@pytest.mark.live
def test_unreachable_database_is_503_and_fast():
    """A real process pointed at a port where no database listens."""
    script = (
        "import json, django; django.setup();"
        "from django.test import Client; c = Client();"
        "h = c.get('/health'); m = c.get('/api/me', HTTP_AUTHORIZATION='Bearer abc');"
        "print(json.dumps([h.status_code, h.json(), m.status_code, m.json()]))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:9/nothing",  # discard port: refused
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "testserver",
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    elapsed = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    health_status, health_body, api_status, api_body = json.loads(result.stdout.strip().splitlines()[-1])
    assert health_status == 503
    assert health_body["database"] == "disconnected"
    assert health_body["status"] == "error"
    assert api_status == 503
    assert api_body["error"]["code"] == "database_unavailable"
    assert elapsed < 15
