"""What a developer meets first: bin/dev, manage.py's answer to a configuration mistake, the
development default of FRONTEND_ORIGIN, and the admin's names for the two kinds of user."""

import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests.net import free_port, fresh_checkout, get, manage, serving, settings_values


def test_the_suite_reads_no_env_file():
    # conftest.py: a developer's .env (bin/dev writes one) must not change what is tested, in this
    # process or in those the tests start, which inherit the variable.
    assert os.environ["ENV_FILE"] == os.devnull


# --- manage.py and a configuration mistake ---------------------------------------------------


@pytest.mark.live
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


@pytest.mark.live
def test_a_bad_value_is_one_line_naming_the_variable():
    result = manage(
        "check", DEBUG="false", SECRET_KEY="s" * 50, BETTER_AUTH_SECRET="b" * 40, LOG_FORMAT="xml"
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Configuration error: LOG_FORMAT must be 'text' or 'json', not 'xml'."
    ]


@pytest.mark.live
def test_traceback_shows_the_traceback():
    result = manage("check", "--traceback", DEBUG="false")

    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr


@pytest.mark.live
def test_the_settings_option_is_honoured():
    # --settings names another module: the default one, which would refuse, is never read.
    result = manage("check", "--settings=config.typecheck_settings", DEBUG="false")

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.live
def test_help_still_lists_the_commands_and_the_mistake():
    result = manage("help", DEBUG="false")

    assert result.returncode == 0
    assert "migrate" in result.stdout
    assert "SECRET_KEY is not set" in result.stdout


# --- FRONTEND_ORIGIN ------------------------------------------------------------------------------

ORIGIN_SETTINGS = ("FRONTEND_ORIGIN", "TRUSTED_ORIGINS", "CORS_ALLOWED_ORIGINS")


LOCALHOST = "http://localhost:3000"


@pytest.mark.live
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


def test_the_admin_index_names_operators_and_app_users_apart(operator_client):
    response = operator_client.get("/admin/")

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


# What bin/dev writes for each secret: secrets.token_urlsafe(48).
RANDOM_SECRET = re.compile(r"[A-Za-z0-9_-]{64}")
# What the settings print when they fall back to a fixed development secret.
FIXED_SECRET_WARNING = "using an insecure development value"


def env_file(checkout: Path) -> list[tuple[str, str]]:
    """The variables of `checkout`/.env, in the order of its lines."""
    lines = (checkout / ".env").read_text().splitlines()
    return [(name, value) for name, _, value in (line.partition("=") for line in lines)]


def manage_in(checkout: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`.venv/bin/python manage.py ...` typed in another terminal, in `checkout`."""
    return subprocess.run(
        [".venv/bin/python", "manage.py", *args],
        cwd=checkout,
        env=shell_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.live
def test_bin_dev_sets_up_development_and_runs_the_server_twice(tmp_path):
    checkout = fresh_checkout(tmp_path)
    port = free_port()
    first_log = tmp_path / "first.log"

    with serving(["bin/dev"], env=shell_env(PORT=str(port)), log=first_log, cwd=checkout) as server:
        written = (checkout / ".env").read_text()
        variables = env_file(checkout)
        assert [name for name, _ in variables] == ["DEBUG", "SECRET_KEY", "BETTER_AUTH_SECRET"]
        debug, secret_key, better_auth_secret = (value for _, value in variables)
        assert debug == "true"
        assert RANDOM_SECRET.fullmatch(secret_key) and RANDOM_SECRET.fullmatch(better_auth_secret)
        assert secret_key != better_auth_secret
        assert stat.S_IMODE((checkout / ".env").stat().st_mode) == 0o600
        assert (checkout / "db.sqlite3").is_file()
        # DEBUG's defaults: every host, and the dashboard's origin trusted for cookie writes.
        assert get(f"{server.url}/health", Host="example.com").status == 200
        assert (
            get(f"{server.url}/api/me", Origin=LOCALHOST).headers["Access-Control-Allow-Origin"] == LOCALHOST
        )

        # Another terminal: manage.py reads .env, its secrets too, so the documented commands work as
        # pasted.
        seeded = manage_in(checkout, "seed", "--users", "1")
        assert seeded.returncode == 0, seeded.stderr
        token = manage_in(checkout, "issue_token", "alice@example.com").stdout.strip()
        tasks = get(f"{server.url}/api/tasks", Authorization=f"Bearer {token}")
        assert tasks.status == 200, tasks.text
        assert json.loads(tasks.text)["meta"]["total"] == 8

        # The settings' fixed development secrets, which anyone can read, are not the server's: a
        # token signed with them is refused.
        forged = manage_in(checkout, "issue_token", "alice@example.com", ENV_FILE=os.devnull, DEBUG="true")
        assert forged.returncode == 0 and FIXED_SECRET_WARNING in forged.stderr, forged.stderr
        assert get(f"{server.url}/api/me", Authorization=f"Bearer {forged.stdout.strip()}").status == 401
    log = first_log.read_text()
    assert log.count("bin/dev: wrote .env with DEBUG=true") == 1
    assert log.count("bin/dev: added a random SECRET_KEY to .env") == 1
    assert log.count("bin/dev: added a random BETTER_AUTH_SECRET to .env") == 1
    assert FIXED_SECRET_WARNING not in log
    assert "Traceback" not in log

    second_log = tmp_path / "second.log"
    with serving(["bin/dev"], env=shell_env(PORT=str(port)), log=second_log, cwd=checkout) as server:
        assert get(f"{server.url}/health").status == 200
    assert (checkout / ".env").read_text() == written
    assert "bin/dev:" not in second_log.read_text()
    assert "No migrations to apply." in second_log.read_text()


@pytest.mark.live
def test_bin_dev_writes_secrets_of_its_own_in_each_checkout(tmp_path):
    secrets = []
    for name in ("one", "two"):
        checkout = fresh_checkout(tmp_path / name)
        env = shell_env(PORT=str(free_port()))
        with serving(["bin/dev"], env=env, log=tmp_path / f"{name}.log", cwd=checkout):
            secrets.append(dict(env_file(checkout)))

    first, second = secrets
    assert first["SECRET_KEY"] != second["SECRET_KEY"]
    assert first["BETTER_AUTH_SECRET"] != second["BETTER_AUTH_SECRET"]


@pytest.mark.live
@pytest.mark.parametrize(
    ("existing", "kept", "added"),
    [
        ("DEBUG=true\n", "DEBUG=true\n", ["SECRET_KEY", "BETTER_AUTH_SECRET"]),
        (
            "DEBUG=false\nBETTER_AUTH_SECRET=the-front-ends-secret",  # no line feed at its end
            "DEBUG=false\nBETTER_AUTH_SECRET=the-front-ends-secret\n",
            ["SECRET_KEY"],
        ),
        (
            "export SECRET_KEY=mine\nBETTER_AUTH_SECRET=\n",  # blank: unset, as the settings read it
            "export SECRET_KEY=mine\nBETTER_AUTH_SECRET=\n",
            ["BETTER_AUTH_SECRET"],
        ),
    ],
    ids=["an older bin/dev's", "a secret set", "a secret blank"],
)
def test_bin_dev_keeps_an_existing_env_and_adds_the_secrets_it_lacks(tmp_path, existing, kept, added):
    checkout = fresh_checkout(tmp_path)
    (checkout / ".env").write_text(existing)

    # Its own commands run with DEBUG=true whatever .env says: the development server starts.
    log = tmp_path / "dev.log"
    with serving(["bin/dev"], env=shell_env(PORT=str(free_port())), log=log, cwd=checkout):
        pass

    written = (checkout / ".env").read_text()
    assert written.startswith(kept)
    appended = env_file(checkout)[len(kept.splitlines()) :]
    assert [name for name, _ in appended] == added
    assert all(RANDOM_SECRET.fullmatch(value) for _, value in appended)
    assert [line for line in log.read_text().splitlines() if line.startswith("bin/dev:")] == [
        f"bin/dev: added a random {name} to .env" for name in added
    ]
    assert FIXED_SECRET_WARNING not in log.read_text()  # the appended value is the one read
