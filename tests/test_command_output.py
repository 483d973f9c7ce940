"""The project's management commands, piped into a reader that stops reading (`manage.py seed |
head -3`): no BrokenPipeError traceback, the whole of the work done, exit status 0, and nothing on
stderr but the development warnings of DEBUG without secrets. Run as a developer runs them, on
a database of their own (PostgreSQL when the suite runs there)."""

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.net import ROOT, SECRETS, migrate, new_database

pytestmark = pytest.mark.live

DEVELOPMENT_WARNING = re.compile(
    r"WARNING: (SECRET_KEY|BETTER_AUTH_SECRET) is not set; "
    r"using an insecure development value \(DEBUG is on\)\."
)
COMMANDS = {
    "seed": ["seed"],
    "seed --reset": ["seed", "--reset"],
    "upkeep": ["upkeep"],
    "purge_sessions": ["purge_sessions"],
    "issue_token": ["issue_token", "alice@example.com"],
}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A developer's environment (DEBUG on, no secrets set) on a migrated database of its own, with
    the demo users. Output is written at once (PYTHONUNBUFFERED, as in the Docker image)."""
    with new_database(tmp_path_factory.mktemp("commands")) as url:
        inherited = {name: value for name, value in os.environ.items() if name not in SECRETS}
        environment = {**inherited, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": url}
        environment |= {"DEBUG": "true", "PYTHONUNBUFFERED": "1"}
        migrate(environment, cwd=ROOT)
        assert manage(environment, "seed").returncode == 0
        yield environment


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def assert_quiet(stderr: str) -> None:
    """Nothing on stderr but the warnings DEBUG without secrets gives every command."""
    lines = [line for line in stderr.splitlines() if not DEVELOPMENT_WARNING.fullmatch(line)]
    assert lines == [], stderr


def cookies(output: str) -> dict[str, str]:
    return dict(re.findall(r"^(\S+@\S+)  .*\n.*\n  cookie    (\S+)$", output, re.MULTILINE))


@pytest.fixture
def buffered(env) -> dict[str, str]:
    """The environment with stdout kept in a buffer until it fills or the command ends (Python's
    default into a pipe): a closed pipe then shows at the end, not at a write."""
    return {**env, "PYTHONUNBUFFERED": ""}


@pytest.fixture(params=["unbuffered", "buffered"])
def buffering(request, env, buffered) -> dict[str, str]:
    return env if request.param == "unbuffered" else buffered


def test_seed_into_head_ends_quietly(buffering):
    result = subprocess.run(
        ["bash", "-c", f'"{sys.executable}" manage.py seed | head -3; exit "${{PIPESTATUS[0]}}"'],
        cwd=ROOT,
        env=buffering,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("Demo users: ")
    assert len(result.stdout.splitlines()) == 3
    assert_quiet(result.stderr)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_reader_gone_before_the_first_line_is_no_error(buffered, command):
    process = subprocess.Popen(
        [sys.executable, "manage.py", *COMMANDS[command]],
        cwd=ROOT,
        env=buffered,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()  # before Django has even started: every line meets a closed pipe

    stderr = process.stderr.read()

    assert process.wait(timeout=120) == 0, stderr
    assert_quiet(stderr)


def test_the_work_is_done_whatever_the_reader(env):
    before = cookies(manage(env, "seed").stdout)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "seed", "--reset"], cwd=ROOT, env=env, stdout=subprocess.PIPE
    )
    # Its first line, "Deleted 2 demo users...", is written (unbuffered) inside the transaction
    # that deletes and recreates them: it goes on, and commits.
    process.stdout.close()
    assert process.wait(timeout=120) == 0

    after = manage(env, "seed")

    assert after.stdout.startswith("Demo users: 0 created, 2 kept as they were.\n")
    assert set(cookies(after.stdout)) == set(before) == {"alice@example.com", "bob@example.com"}
    for email, cookie in cookies(after.stdout).items():
        assert cookie != before[email], f"{email} was not recreated"


def test_a_failing_command_still_fails(env):
    process = subprocess.Popen(
        [sys.executable, "manage.py", "issue_token", "nobody@example.com"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()

    stderr = process.stderr.read()

    assert process.wait(timeout=120) == 1
    assert "CommandError: No user has the email address or id 'nobody@example.com'." in stderr
    assert "BrokenPipeError" not in stderr
