"""The documentation's commands work as written, pasted after the quick start, and its links lead
somewhere.

How the commands are found (README.md, CONTRIBUTING.md, CHANGELOG.md and docs/*.md):

- Every shell command is in a fenced ```bash block; any other shell-like fence (```sh, ```console,
  a fence without a language) fails here, so no command escapes the rule.
- A block is run unless the line above its fence (blank lines aside) says
  `<!-- not run: why -->` (Docker, PostgreSQL, a language model, another server in the
  foreground...). The skipped blocks are printed with their reasons.
- The block marked `<!-- server -->` (the README's quick start, `bin/dev`) is the server: it is
  started once, in a copy of the project with this virtualenv linked in as `.venv`, with `PORT` set
  to a free port, and it must answer /health.
- Lines `# -> text` after commands are their output as shown; `# ->` alone is an empty line. The
  commands since the previous shown output (the step) must print exactly that on stdout.

How they are run: each page, from its first block to its last, in one bash session (so a variable
or function a block defines serves the next ones), in the copy's folder, with `set -eo pipefail`,
after the database has been put back as the quick start left it, and again (every page but the
README, and NEW_DATABASE_ONLY) as the README's own commands leave it: every page works after the
quick start, whatever was read before it. The commands reach the server through `$BASE`, never a
written port: each session first runs the README's line that sets `BASE`, as a reader's terminal
has, with `PORT` set to the server's port as bin/dev got it (and the server's port is put back to
7860 in what the commands print). No date is written in a command either: the pages compute the
ones they need, so they work on any day (`faketime '2031-12-31 23:15' .venv/bin/pytest
tests/test_docs.py --live` tries one, on SQLite). The environment is this process's without every
variable `.env.example` names (the test suite's secrets, DATABASE_URL...) and without an activated
virtualenv, as in a new terminal: the commands read the `.env` bin/dev wrote.

What is checked, per step: every command exits 0; every HTTP answer curl got is below 500, and one
of 400-499 only where the step's shown output is an error envelope (`{"error"`); nothing wrote a
traceback; and the shown output matches stdout after both are normalised (NORMALISED below: the
things that legitimately differ from one run to the next), with `...` in the shown output standing
for any text. At the end, the server's log holds no traceback.
"""

import os
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.net import free_port, fresh_checkout, new_terminal_env, wait_for_health

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
DOCUMENTED_PORT = "7860"
SHELL_LANGUAGES = {"", "sh", "shell", "console", "zsh", "shell-session", "bash-session", "terminal"}
STATUS_MARK = "ironclad-docs-http-status"

# What legitimately differs between the run shown in the docs and this one, replaced in both the
# shown and the actual output before they are compared.
NORMALISED = [
    # better-auth ids and session tokens: 32 random letters and digits.
    (re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{32}(?![A-Za-z0-9])"), "<random>"),
    # Moments: today's date and the time of day (the offset that follows is still compared).
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?"), "<time>"),
    # Integer ids, which depend on what the database held before: in JSON, and in the chat's words.
    (re.compile(r'("(?:id|task_id|next_task_id|conversation_id|category_id)":)\d+'), r"\1<id>"),
    (re.compile(r"(#|\b[Tt]ask )\d+\b"), r"\1<id>"),
]


@dataclass
class Step:
    """Commands and the output the docs show for them (None: not shown, not compared)."""

    code: list[str] = field(default_factory=list)
    shown: list[str] | None = None
    line: int = 0


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    marker: str  # the HTML comment above the fence, without <!-- -->, or ""
    lines: list[str]

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def skip_reason(self) -> str | None:
        match = re.fullmatch(r"not run:\s*(.+)", self.marker)
        return match.group(1) if match else None

    def steps(self) -> list[Step]:
        steps = [Step(line=self.line + 1)]
        for number, text in enumerate(self.lines, start=self.line + 1):
            shown = re.fullmatch(r"# ->(?: (.*))?", text)
            if shown:
                current = steps[-1]
                current.shown = [*(current.shown or []), shown.group(1) or ""]
                continue
            if steps[-1].shown is not None:
                steps.append(Step(line=number))
            steps[-1].code.append(text)
        return [step for step in steps if step.code or step.shown is not None]


FENCE = re.compile(r"^(?P<indent>\s*)```(?P<language>[\w-]*)\s*$")


def blocks(page: Path) -> list[Block]:
    found: list[Block] = []
    lines = page.read_text().splitlines()
    number = 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        if not opening:
            number += 1
            continue
        indent = opening["indent"]
        above = next((text.strip() for text in reversed(lines[:number]) if text.strip()), "")
        marker = re.fullmatch(r"<!--\s*(.*?)\s*-->", above)
        start, number = number, number + 1
        content = []
        while number < len(lines) and lines[number].strip() != "```":
            content.append(lines[number].removeprefix(indent))
            number += 1
        assert number < len(lines), f"{page.name}:{start + 1}: a code fence is never closed"
        found.append(Block(page, start + 1, opening["language"], marker[1] if marker else "", content))
        number += 1
    return found


def all_blocks() -> list[Block]:
    return [block for page in PAGES for block in blocks(page)]


def normalise(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.strip("\n").splitlines())
    for pattern, replacement in NORMALISED:
        text = pattern.sub(replacement, text)
    return text


def matches(shown: list[str], actual: str) -> bool:
    """Whether `actual` is the `shown` output, `...` standing for any text."""
    pattern = ".*?".join(re.escape(part) for part in normalise("\n".join(shown)).split("..."))
    return re.fullmatch(pattern, normalise(actual), re.DOTALL) is not None


# --- the blocks, without running anything ------------------------------------------------------


def test_every_shell_command_is_in_a_bash_block_that_runs_or_says_why_not():
    refused = [
        f"{block.where}: ```{block.language or '(no language)'}"
        for block in all_blocks()
        if block.language in SHELL_LANGUAGES
    ]
    assert not refused, (
        "Write commands in ```bash blocks (the docs test runs them, or skips them with "
        "<!-- not run: why -->) and other text as ```text, ```json...:\n" + "\n".join(refused)
    )
    markers = [block for block in all_blocks() if block.marker and block.language == "bash"]
    unknown = [block.where for block in markers if block.marker != "server" and not block.skip_reason]
    assert not unknown, f"a marker above a bash block is `server` or `not run: why`: {unknown}"
    servers = [block for block in markers if block.marker == "server"]
    assert [block.page.name for block in servers] == ["README.md"], "one server block: the quick start's"
    print("\nbash blocks the docs test does not run:")
    for block in markers:
        if block.skip_reason:
            print(f"  {block.where}: {block.skip_reason}")


def test_the_commands_run_name_neither_the_port_nor_a_date():
    """They use `$BASE` (the server on any port) and compute their dates (they work on any day)."""
    commands = [
        (block, line)
        for block in all_blocks()
        if block.language == "bash" and not block.marker
        for line in block.lines
        if not line.startswith("# ->")
    ]
    port = [f"{block.where}: {line}" for block, line in commands if f":{DOCUMENTED_PORT}" in line]
    assert not port, "write $BASE, as the quick start sets it, not the port:\n" + "\n".join(port)
    dates = [f"{block.where}: {line}" for block, line in commands if re.search(r"\d{4}-\d\d-\d\d", line)]
    assert not dates, "compute a date (`date -d '+7 days' +%F`), or it passes:\n" + "\n".join(dates)
    assert quick_start_variables(), "the README's quick start sets BASE"


def test_the_readme_gives_the_test_command_ci_runs():
    """.ci/run runs the README's test command as it is written; they must not drift apart."""
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    readme_commands = {line for block in blocks(ROOT / "README.md") for line in block.lines}
    command = (
        "python3.13 -m venv .venv && .venv/bin/pip install -q -r requirements-dev.txt && .venv/bin/pytest"
    )
    assert command in ci_lines
    assert command in readme_commands


def test_blocks_left_to_ci_are_what_ci_runs():
    """A block not run because .ci/run runs it: .ci/run has each of its commands, as written."""
    ci_lines = {line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()}
    left_to_ci = [block for block in all_blocks() if ".ci/run" in (block.skip_reason or "")]
    assert left_to_ci
    missing = [
        f"{block.where}: {line}"
        for block in left_to_ci
        for line in block.lines
        if line.strip() and not line.startswith("#") and line.strip() not in ci_lines
    ]
    assert not missing, "commands said to be run by .ci/run that it does not run:\n" + "\n".join(missing)


def test_the_api_page_lists_every_error_code_the_schema_declares():
    from ironclad.openapi import ERRORS

    page = (ROOT / "docs" / "api.md").read_text()
    table = page.split("## Error codes", 1)[1].split("\n## ", 1)[0]
    for status, (_, codes) in ERRORS.items():
        for code in codes:
            assert re.search(rf"^\| {status} \|[^|]*`{code}`", table, re.MULTILINE), (status, code)


# --- links ----------------------------------------------------------------------------------


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    kept = "".join(char for char in text if char in " -_" or unicodedata.category(char)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    in_fence = False
    for line in page.read_text().splitlines():
        if FENCE.match(line) or line.strip() == "```":
            in_fence = not in_fence
        if in_fence or not (heading := re.match(r"#{1,6} (.+)", line)):
            continue
        anchor = github_anchor(heading.group(1))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def links(page: Path) -> list[tuple[int, str]]:
    found, in_fence = [], False
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if FENCE.match(line) or line.strip() == "```":
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        without_code = re.sub(r"`[^`]*`", "", line)
        found += [(number, target) for target in re.findall(r"\]\(([^)\s]+)\)", without_code)]
    return found


def test_every_relative_link_leads_to_a_file_and_heading_that_exist():
    broken = []
    for page in PAGES:
        for number, target in links(page):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            destination = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(ROOT)}:{number}: {target}"
            if not destination.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and (destination.suffix != ".md" or anchor not in anchors(destination)):
                broken.append(f"{where} (no such heading)")
    assert not broken, "\n".join(broken)


# --- running the commands --------------------------------------------------------------------


@dataclass
class QuickStart:
    folder: Path
    port: int
    env: dict[str, str]
    log: Path
    pristine_database: Path

    def reset_database(self, saved: Path | None = None) -> None:
        """The database as the quick start left it, or as `saved` holds it (the development server
        opens it anew for every request)."""
        fresh = self.folder / "db.sqlite3.fresh"
        shutil.copyfile(saved or self.pristine_database, fresh)
        os.replace(fresh, self.folder / "db.sqlite3")

    def save_database(self, saved: Path) -> None:
        shutil.copyfile(self.folder / "db.sqlite3", saved)


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory) -> Iterator[QuickStart]:
    if shutil.which("curl") is None or shutil.which("jq") is None:
        pytest.fail("the docs' commands use curl and jq: install them")
    [server_block] = [block for block in all_blocks() if block.marker == "server"]
    work = tmp_path_factory.mktemp("docs")
    folder = fresh_checkout(work)

    port = free_port()
    env = new_terminal_env()
    log = work / "server.log"
    with log.open("w") as sink:
        server = subprocess.Popen(
            ["bash", "-c", "\n".join(server_block.lines)],
            cwd=folder,
            env={**env, "PORT": str(port)},
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    try:
        wait_for_health(f"http://127.0.0.1:{port}", server, log, timeout=120)
        pristine = work / "db.after-quick-start.sqlite3"
        shutil.copyfile(folder / "db.sqlite3", pristine)
        yield QuickStart(folder, port, env, log, pristine)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, 9)
            server.wait()
    assert "Traceback" not in log.read_text(), log.read_text()


def quick_start_variables() -> list[str]:
    """The README's lines that set `BASE`, which every page's commands use to reach the server."""
    return [
        line
        for block in blocks(ROOT / "README.md")
        if block.language == "bash" and not block.marker
        for line in block.lines
        if re.match(r"(export )?BASE=", line)
    ]


def script(block_list: list[Block], results: Path) -> tuple[str, list[tuple[Block, Step]]]:
    """One bash script for the blocks, each step's stdout and stderr in files of their own."""
    parts = [
        "set -eo pipefail",
        # Every answer's status, on stderr, where the step's own output is not.
        f"curl() {{ command curl -w '%{{stderr}}{STATUS_MARK} %{{http_code}}\\n' \"$@\"; }}",
        # What a reader's terminal holds after the quick start.
        *quick_start_variables(),
    ]
    steps: list[tuple[Block, Step]] = []
    for block in block_list:
        for step in block.steps():
            index = len(steps)
            steps.append((block, step))
            code = "\n".join(step.code)
            parts += [
                f"echo {index} > '{results}/current'",
                "{",
                code,
                f"}} > '{results}/{index}.out' 2> '{results}/{index}.err'",
            ]
    parts.append(f"echo done > '{results}/current'")
    return "\n".join(parts) + "\n", steps


def runnable_pages() -> list[Path]:
    return [
        page for page in PAGES if any(block.language == "bash" and not block.marker for block in blocks(page))
    ]


def run_page(
    page: Path, quick_start: QuickStart, results: Path
) -> tuple[subprocess.CompletedProcess, list[tuple[Block, Step]]]:
    """The page's commands, run as a reader in a second terminal runs them; and its steps."""
    runnable = [block for block in blocks(page) if block.language == "bash" and not block.marker]
    text, steps = script(runnable, results)
    (results / "script.sh").write_text(text)
    run = subprocess.run(
        ["bash", str(results / "script.sh")],
        cwd=quick_start.folder,
        env={**quick_start.env, "PORT": str(quick_start.port)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return run, steps


@pytest.fixture(scope="module")
def after_the_readme(quick_start, tmp_path_factory) -> Path:
    """The database as a reader who ran the README's commands has it: its demo users and task."""
    results = tmp_path_factory.mktemp("readme")
    quick_start.reset_database()
    run, _ = run_page(ROOT / "README.md", quick_start, results)
    assert run.returncode == 0, f"the README's commands failed (its own test says why):\n{run.stderr}"
    quick_start.save_database(results / "db.after-readme.sqlite3")
    return results / "db.after-readme.sqlite3"


# Pages that show what a command prints on a new database, as they say, and so run after the quick
# start only.
NEW_DATABASE_ONLY = {ROOT / "docs" / "operations.md"}  # "seed: demo users", "On a new database"

# Every page after the quick start; and every other page after the README's commands too, which a
# reader may have run first (its task must not change what the next pages show).
PAGE_RUNS = [
    *(pytest.param(page, False, id=str(page.relative_to(ROOT))) for page in runnable_pages()),
    *(
        pytest.param(page, True, id=f"{page.relative_to(ROOT)}, after the README")
        for page in runnable_pages()
        if page.name != "README.md" and page not in NEW_DATABASE_ONLY
    ),
]


# Live: CI runs it in its PostgreSQL step, where the quick start still runs on SQLite (in its copy of
# the project, with none of the suite's variables).
@pytest.mark.live
@pytest.mark.parametrize(("page", "after_readme"), PAGE_RUNS)
def test_the_commands_of_the_page_work_as_shown(page, after_readme, quick_start, request, tmp_path):
    quick_start.reset_database(request.getfixturevalue("after_the_readme") if after_readme else None)
    run, steps = run_page(page, quick_start, tmp_path)

    def report(index: int, problem: str) -> str:
        block, step = steps[index]
        out = (tmp_path / f"{index}.out").read_text() if (tmp_path / f"{index}.out").exists() else ""
        err = (tmp_path / f"{index}.err").read_text() if (tmp_path / f"{index}.err").exists() else ""
        err = "\n".join(line for line in err.splitlines() if not line.startswith(STATUS_MARK))
        shown = "\n".join(step.shown) if step.shown is not None else "(not shown)"
        return (
            f"{block.page.relative_to(ROOT)}:{step.line}: {problem}\n--- commands\n"
            + "\n".join(step.code)
            + f"\n--- shown output\n{shown}\n--- stdout\n{out}\n--- stderr\n{err}\n{run.stderr}"
        )

    current = (tmp_path / "current").read_text().strip()
    if run.returncode != 0:
        failed = int(current) if current.isdigit() else len(steps) - 1
        pytest.fail(report(failed, f"a command failed (bash exited {run.returncode})"), pytrace=False)
    assert current == "done"

    problems = []
    for index, (_, step) in enumerate(steps):
        # The server's own URLs in its answers name the port it runs on, as the commands did.
        out = (
            (tmp_path / f"{index}.out").read_text().replace(f"127.0.0.1:{quick_start.port}", "127.0.0.1:7860")
        )
        err = (tmp_path / f"{index}.err").read_text()
        statuses = [int(code) for code in re.findall(rf"^{STATUS_MARK} (\d+)$", err, re.MULTILINE)]
        shows_error = step.shown is not None and '{"error"' in "\n".join(step.shown)
        if any(status >= 500 or status == 0 for status in statuses):
            problems.append(report(index, f"a request failed: HTTP statuses {statuses}"))
        elif any(400 <= status < 500 for status in statuses) and not shows_error:
            problems.append(report(index, f"an HTTP error the docs do not show: statuses {statuses}"))
        elif "Traceback" in err:
            problems.append(report(index, "a traceback"))
        elif step.shown is not None and not matches(step.shown, out):
            problems.append(report(index, "the output differs from the one shown"))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
