"""What a developer meets first: bin/dev, manage.py's answer to a configuration mistake, the
development default of FRONTEND_ORIGIN, and the admin's names for the two kinds of user."""

import json
import os
import subprocess

import pytest
from django.contrib.auth import get_user_model

from tests.net import free_port, fresh_checkout, get, manage, serving, settings_values


def test_the_suite_reads_no_env_file():
    # conftest.py: a developer's .env (bin/dev writes one) must not change what is tested, in this
    # process or in those the tests start, which inherit the variable.
    assert os.environ["ENV_FILE"] == os.devnull


# --- manage.py and a configuration mistake ---------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["check"],
        ["migrate"],
        ["seed"],
        ["issue_token", "alice@example.com"],
        ["runserver", "--noreload", "127.0.0.1:9"],
        ["shell", "-c", "print('started')"],
    ],
    ids=lambda command: command[0],
)
def test_a_missing_secret_is_one_line_and_status_1_for_every_command(command):
    result = manage(*command, DEBUG="false")

    assert result.returncode == 1
    assert result.stderr == (
        "Configuration error: SECRET_KEY is not set. Set it in the environment (see .env.example); "
        "it is required when DEBUG is off.\n"
    )
    assert result.stdout == ""


def test_a_bad_value_is_one_line_naming_the_variable():
    result = manage(
        "check", DEBUG="false", SECRET_KEY="s" * 50, BETTER_AUTH_SECRET="b" * 40, LOG_FORMAT="xml"
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Configuration error: LOG_FORMAT must be 'text' or 'json', not 'xml'."
    ]


def test_traceback_shows_the_traceback():
    result = manage("check", "--traceback", DEBUG="false")

    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr


def test_the_settings_option_is_honoured():
    # --settings names another module: the default one, which would refuse, is never read.
    result = manage("check", "--settings=ironclad.typecheck_settings", DEBUG="false")

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_help_still_lists_the_commands_and_the_mistake():
    result = manage("help", DEBUG="false")

    assert result.returncode == 0
    assert "migrate" in result.stdout
    assert "SECRET_KEY is not set" in result.stdout


# --- FRONTEND_ORIGIN ------------------------------------------------------------------------------

ORIGIN_SETTINGS = ("FRONTEND_ORIGIN", "TRUSTED_ORIGINS", "CORS_ALLOWED_ORIGINS")


LOCALHOST = "http://localhost:3000"


@pytest.mark.parametrize(
    ("env", "origin"),
    [
        ({"DEBUG": "true"}, LOCALHOST),
        ({"DEBUG": "true", "FRONTEND_ORIGIN": ""}, LOCALHOST),  # blank is unset
        ({"DEBUG": "true", "FRONTEND_ORIGIN": "https://app.example"}, "https://app.example"),
        ({"DEBUG": "false"}, ""),
        ({"DEBUG": "false", "FRONTEND_ORIGIN": ""}, ""),
        ({"DEBUG": "false", "FRONTEND_ORIGIN": "https://app.example"}, "https://app.example"),
    ],
    ids=[
        "development",
        "development-blank",
        "development-set",
        "production",
        "production-blank",
        "production-set",
    ],
)
def test_frontend_origin_defaults_to_localhost_3000_in_development_only(env, origin):
    # The test run sets FRONTEND_ORIGIN: here only `env` does.
    values = settings_values(*ORIGIN_SETTINGS, clean=("FRONTEND_ORIGIN", "CORS_ORIGINS"), **env)

    assert values["FRONTEND_ORIGIN"] == origin
    trusted = [origin] if origin else []
    assert values["TRUSTED_ORIGINS"] == values["CORS_ALLOWED_ORIGINS"] == trusted


# --- The admin's names ------------------------------------------------------------------------


def test_the_admin_index_names_operators_and_app_users_apart(client, db):
    operator = get_user_model().objects.create_superuser("operator", "ops@example.com", "a-strong-password-1")
    client.force_login(operator)

    response = client.get("/admin/")

    assert response.status_code == 200
    models = {
        app["app_label"]: [model["name"] for model in app["models"]] for app in response.context["app_list"]
    }
    assert "Operators" in models["auth"]
    assert "App users" in models["accounts"]
    names = [name for app in models.values() for name in app]
    assert "Users" not in names
    assert len(names) == len(set(names))
    assert b"Operators" in response.content and b"App users" in response.content


# --- bin/dev ----------------------------------------------------------------------------------------


def shell_env(**extra: str) -> dict[str, str]:
    """A new terminal's environment: none of the test run's settings."""
    kept = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {**{name: os.environ[name] for name in kept if name in os.environ}, **extra}


def test_bin_dev_sets_up_development_and_runs_the_server_twice(tmp_path):
    checkout = fresh_checkout(tmp_path)
    port = free_port()
    first_log = tmp_path / "first.log"

    with serving(["bin/dev"], env=shell_env(PORT=str(port)), log=first_log, cwd=checkout) as server:
        assert (checkout / ".env").read_text() == "DEBUG=true\n"
        assert (checkout / "db.sqlite3").is_file()
        # DEBUG's defaults: every host, and the dashboard's origin trusted for cookie writes.
        assert get(f"{server.url}/health", Host="example.com").status == 200
        assert (
            get(f"{server.url}/api/me", Origin=LOCALHOST).headers["Access-Control-Allow-Origin"] == LOCALHOST
        )

        # Another terminal: manage.py reads .env, so the documented commands work as pasted.
        seeded = subprocess.run(
            [".venv/bin/python", "manage.py", "seed", "--users", "1"],
            cwd=checkout,
            env=shell_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert seeded.returncode == 0, seeded.stderr
        token = subprocess.run(
            [".venv/bin/python", "manage.py", "issue_token", "alice@example.com"],
            cwd=checkout,
            env=shell_env(),
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
        tasks = get(f"{server.url}/api/tasks", Authorization=f"Bearer {token}")
        assert tasks.status == 200, tasks.text
        assert json.loads(tasks.text)["meta"]["total"] == 8
    assert first_log.read_text().count("bin/dev: wrote .env with DEBUG=true") == 1
    assert "Traceback" not in first_log.read_text()

    second_log = tmp_path / "second.log"
    with serving(["bin/dev"], env=shell_env(PORT=str(port)), log=second_log, cwd=checkout) as server:
        assert get(f"{server.url}/health").status == 200
    assert "bin/dev:" not in second_log.read_text()
    assert "No migrations to apply." in second_log.read_text()


def test_bin_dev_keeps_an_existing_env_and_runs_in_development(tmp_path):
    checkout = fresh_checkout(tmp_path)
    (checkout / ".env").write_text("DEBUG=false\n")

    # Its own commands run with DEBUG=true: no secrets needed, the development server starts.
    env = shell_env(PORT=str(free_port()))
    with serving(["bin/dev"], env=env, log=tmp_path / "dev.log", cwd=checkout):
        pass

    assert (checkout / ".env").read_text() == "DEBUG=false\n"
