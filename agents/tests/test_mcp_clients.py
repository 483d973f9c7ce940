"""The MCP server through the official SDK's own clients: streamable HTTP against Ironclad served as
deployed (granian, two workers, DEBUG off; on PostgreSQL when the suite runs on it), and stdio
against `manage.py mcp`. Every tool is called, and the database is read afterwards."""

import asyncio
import json
import re
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from typing import Any

import httpx2
import jwt
import psycopg
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from agents.tools import TOOLS
from tests.net import (
    ROOT,
    Response,
    free_port,
    get,
    manage,
    new_database,
    post,
    seed_demo_users,
    server_env,
    serving,
)

pytestmark = pytest.mark.live

BETTER_AUTH_URL = "http://127.0.0.1:3000/api/auth"
JWT_ISSUER = "http://127.0.0.1:3000"  # better-auth's origin: the iss and aud of every JWT
MODES = ["legacy", "auto"]  # the initialize handshake, and the 2026-07-28 protocol's discovery


@dataclass
class Live:
    url: str
    env: dict[str, str]
    database_url: str
    alice: str  # a JWT, as `manage.py issue_token` prints it
    bob: str

    def rows(self, sql: str, *params: Any) -> list[tuple]:
        """Rows of the server's database (SQL written with %s placeholders)."""
        if self.database_url.startswith("postgres"):
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                return conn.execute(sql, params).fetchall()
        with closing(sqlite3.connect(self.database_url.removeprefix("sqlite:///"))) as conn:
            return conn.execute(sql.replace("%s", "?"), params).fetchall()

    def user_id(self, email: str) -> str:
        return self.rows('SELECT id FROM "user" WHERE email = %s', email)[0][0]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory) -> Iterator[str]:
    with new_database(tmp_path_factory.mktemp("mcp")) as url:
        yield url


@pytest.fixture(scope="module")
def live(database_url, tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("mcp-server")
    (folder / "static").mkdir()
    env = server_env(
        port=free_port(),
        database_url=database_url,
        static_root=folder / "static",
        HTTPS_ONLY="false",
        WEB_CONCURRENCY="2",  # two processes: a stateless server answers whichever gets a request
        BETTER_AUTH_URL=BETTER_AUTH_URL,
    )
    env["MCP_RESOURCE_URL"] = f"http://127.0.0.1:{env['PORT']}/mcp"
    alice, bob = seed_demo_users(env, "alice@example.com", "bob@example.com")
    log = folder / "server.log"
    with serving([sys.executable, "-m", "config.serve"], env=env, log=log, cwd=ROOT) as server:
        yield Live(f"{server.url}/mcp", env, database_url, alice, bob)
    written = log.read_text()
    assert "Traceback" not in written, written
    assert not re.search(r" /mcp 5\d\d ", written), written


@asynccontextmanager
async def connected(live: Live, token: str, mode: str = "auto") -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with http, Client(streamable_http_client(live.url, http_client=http), mode=mode) as client:
        yield client


def structured(result) -> Any:
    assert not result.is_error, result.content
    # The same JSON as text, for clients that read only text.
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def error_text(result) -> str:
    assert result.is_error, result
    return result.content[0].text


@pytest.mark.parametrize("mode", MODES)
def test_initialize_and_list_the_tools_with_their_schemas_and_annotations(live, mode):
    async def scenario():
        async with connected(live, live.alice, mode) as client:
            return client.protocol_version, client.server_info, (await client.list_tools()).tools

    protocol_version, server_info, tools = asyncio.run(scenario())

    assert protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
    assert server_info is not None and server_info.name == "ironclad"
    assert [tool.name for tool in tools] == list(TOOLS)
    for tool in tools:
        declared = TOOLS[tool.name]
        assert tool.input_schema == declared.parameters
        assert tool.output_schema == declared.result_schema
        assert tool.annotations is not None
        hints = (
            tool.annotations.read_only_hint,
            tool.annotations.destructive_hint,
            tool.annotations.idempotent_hint,
        )
        assert hints == (declared.read_only, declared.destructive, declared.idempotent)
        assert tool.annotations.open_world_hint is False
        assert not {name for name in tool.input_schema["properties"] if "user" in name}, (
            "no tool takes a user"
        )
    annotations = {tool.name: tool.annotations for tool in tools}
    assert annotations["list_tasks"].read_only_hint and annotations["list_categories"].read_only_hint
    assert annotations["delete_task"].destructive_hint and annotations["delete_task"].idempotent_hint
    assert not annotations["add_task"].read_only_hint and not annotations["add_task"].idempotent_hint


@pytest.mark.parametrize("mode", MODES)
def test_every_tool_acts_on_the_database_for_the_signed_in_user(live, mode):
    alice = live.user_id("alice@example.com")
    title = f"Buy stamps ({mode})"
    category = f"Errands {mode}"

    async def scenario():
        async with connected(live, live.alice, mode) as client:
            added_category = structured(
                await client.call_tool("add_category", {"name": category, "color": "#00AA00"})
            )
            added = structured(
                await client.call_tool(
                    "add_task",
                    {
                        "title": title,
                        "category": category.upper(),
                        "priority": "HIGH",
                        "due_date": "2026-12-24",
                        "recurrence": "weekly",
                        "tags": ["post"],
                    },
                )
            )
            task_id = added["task_id"]
            by_category = structured(await client.call_tool("list_tasks", {"category": category}))
            by_tag = structured(
                await client.call_tool(
                    "list_tasks", {"tag": "post", "status": "pending", "due_before": "2026-12-24"}
                )
            )
            categories = structured(await client.call_tool("list_categories", {}))
            updated = structured(
                await client.call_tool("update_task", {"task_id": task_id, "title": f"{title} and envelopes"})
            )
            completed = structured(await client.call_tool("complete_task", {"task_id": task_id}))
            again = structured(await client.call_tool("complete_task", {"task_id": task_id}))
            deleted = structured(
                await client.call_tool("delete_task", {"task_id": completed["next_task_id"]})
            )
            return added_category, added, by_category, by_tag, categories, updated, completed, again, deleted

    added_category, added, by_category, by_tag, categories, updated, completed, again, deleted = asyncio.run(
        scenario()
    )

    task_id = added["task_id"]
    assert added == {"task_id": task_id, "status": "created", "title": title, "etag": added["etag"]}
    # Each write reports the task's new ETag, the one the REST API then gives.
    assert completed["etag"] != updated["etag"]
    shown = get(live.url.removesuffix("/mcp") + f"/api/tasks/{task_id}", Authorization=f"Bearer {live.alice}")
    assert shown.headers["ETag"] == completed["etag"]
    assert added_category["status"] == "created"
    assert live.rows('SELECT "userId", color FROM category WHERE id = %s', added_category["category_id"]) == [
        (alice, "#00aa00")
    ]
    assert [task["id"] for task in by_category["tasks"]] == [task_id]
    assert task_id in [task["id"] for task in by_tag["tasks"]]
    assert category in [listed["name"] for listed in categories["categories"]]
    assert updated == {
        "task_id": task_id,
        "status": "updated",
        "title": f"{title} and envelopes",
        "etag": updated["etag"],
    }
    assert completed["status"] == "completed" and "next_task_id" in completed
    assert "next_task_id" not in again, "a repeated completion creates no second occurrence"
    assert deleted == {
        "task_id": completed["next_task_id"],
        "status": "deleted",
        "title": f"{title} and envelopes",
    }
    [(owner, saved_title, priority, done, recurrence, category_id)] = live.rows(
        'SELECT "userId", title, priority, completed, recurrence, "categoryId" FROM task WHERE id = %s',
        task_id,
    )
    assert (owner, saved_title, priority, bool(done), recurrence) == (
        alice,
        f"{title} and envelopes",
        "high",
        True,
        "weekly",
    )
    assert category_id == added_category["category_id"]
    assert live.rows("SELECT count(*) FROM task WHERE title = %s", f"{title} and envelopes") == [(1,)]


def test_a_reminder_is_set_and_read_back_through_the_tools(live):
    """remind_at, a field of the REST API's tasks, is an argument of add_task and update_task and a
    field of list_tasks' tasks, with the REST API's meaning: a date alone is 09:00 that day."""
    tasks_url = live.url.removesuffix("/mcp") + "/api/tasks"

    async def scenario():
        async with connected(live, live.alice) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            added = structured(
                await client.call_tool(
                    "add_task", {"title": "Renew the visa", "remind_at": "2026-12-24T18:30:00Z"}
                )
            )
            listed = structured(await client.call_tool("list_tasks", {"search": "visa"}))
            updated = structured(
                await client.call_tool(
                    "update_task", {"task_id": added["task_id"], "remind_at": "2026-12-23"}
                )
            )
            relisted = structured(await client.call_tool("list_tasks", {"search": "visa"}))
            refused = error_text(await client.call_tool("add_task", {"title": "Visa", "remind_at": "soon"}))
            return tools, added, listed, updated, relisted, refused

    tools, added, listed, updated, relisted, refused = asyncio.run(scenario())

    for name in ("add_task", "update_task"):
        assert "task.reminder" in tools[name].input_schema["properties"]["remind_at"]["description"], name
    task_id = added["task_id"]
    assert [(task["id"], task["remind_at"]) for task in listed["tasks"]] == [
        (task_id, "2026-12-24T18:30:00Z")
    ]
    assert updated["status"] == "updated"
    shown = json.loads(get(f"{tasks_url}/{task_id}", Authorization=f"Bearer {live.alice}").body)["data"]
    [(_id, remind_at)] = [(task["id"], task["remind_at"]) for task in relisted["tasks"]]
    assert remind_at == shown["remind_at"]
    assert remind_at.startswith("2026-12-23T09:00:00")  # 09:00 in the server's TIME_ZONE, with its offset
    assert refused == (
        "The task is invalid (remind_at: Use YYYY-MM-DD, or YYYY-MM-DDThh:mm[:ss[.ffffff]] with Z, ±hh:mm "
        "or nothing.)."
    )
    assert not live.rows("SELECT id FROM task WHERE title = %s", "Visa")


def test_alices_token_never_reaches_bobs_tasks(live):
    bob = live.user_id("bob@example.com")
    bobs_tasks = sorted(live.rows('SELECT id, title, completed FROM task WHERE "userId" = %s', bob))
    first = bobs_tasks[0][0]

    async def scenario():
        async with connected(live, live.bob) as client:
            structured(await client.call_tool("add_category", {"name": "Bob's own"}))
        async with connected(live, live.alice) as client:
            refusals = [
                error_text(await client.call_tool("complete_task", {"task_id": first})),
                error_text(await client.call_tool("delete_task", {"task_id": first})),
                error_text(await client.call_tool("update_task", {"task_id": first, "title": "Hacked"})),
                error_text(await client.call_tool("update_task", {"task_id": str(first), "completed": True})),
            ]
            listed = structured(await client.call_tool("list_tasks", {"status": "all"}))
            filed = error_text(
                await client.call_tool("add_task", {"title": "In Bob's category", "category": "Bob's own"})
            )
            return refusals, listed, filed

    refusals, listed, filed = asyncio.run(scenario())

    assert refusals == [f"Task {first} was not found among your tasks."] * 3 + [
        # Its own schema says an integer, as REST's does: "1" is refused before anything is looked up.
        "The arguments are invalid (task_id: Must be a whole number.)."
    ]
    assert not {task["id"] for task in listed["tasks"]} & {task_id for task_id, _title, _done in bobs_tasks}
    assert filed == 'You have no category named "Bob\'s own". list_categories shows yours.'
    assert sorted(live.rows('SELECT id, title, completed FROM task WHERE "userId" = %s', bob)) == bobs_tasks
    assert not live.rows("SELECT id FROM task WHERE title = %s", "In Bob's category")


def test_a_call_the_tool_refuses_is_an_error_result_a_model_can_act_on(live):
    alice = live.user_id("alice@example.com")

    async def scenario():
        async with connected(live, live.alice) as client:
            results = [
                error_text(await client.call_tool("add_task", {"title": ""})),
                error_text(await client.call_tool("add_task", {"title": "x", "user_id": alice})),
                error_text(await client.call_tool("list_tasks", {"due_before": "next week"})),
                error_text(await client.call_tool("delete_task", {})),
            ]
            with pytest.raises(MCPError, match="There is no tool named 'drop_tables'"):
                await client.call_tool("drop_tables", {})
            return results

    assert asyncio.run(scenario()) == [
        "The task is invalid (title: This field may not be blank.).",
        "Unexpected arguments: user_id.",
        "The filter is invalid (due_before: Use YYYY-MM-DD, or YYYY-MM-DDThh:mm[:ss[.ffffff]] "
        "with Z, ±hh:mm or nothing.).",
        "Missing arguments: task_id.",
    ]
    assert not live.rows("SELECT id FROM task WHERE title = %s", "x")


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_the_other_servers_serve_it_too(live, server, tmp_path):
    """granian serves the fixture's server; uvicorn serves config/asgi.py (Django's ASGI handler
    runs the view in a thread, and the tool runs back in that thread), gunicorn the WSGI app."""
    env = {**live.env, "SERVER": server, "PORT": str(free_port()), "WEB_CONCURRENCY": "1"}
    log = tmp_path / "server.log"
    with serving([sys.executable, "-m", "config.serve"], env=env, log=log, cwd=ROOT) as other:
        other_live = Live(f"{other.url}/mcp", env, live.database_url, live.alice, live.bob)

        async def scenario():
            async with connected(other_live, live.alice) as client:
                tools = (await client.list_tools()).tools
                return tools, structured(await client.call_tool("add_task", {"title": f"Served by {server}"}))

        tools, added = asyncio.run(scenario())

    assert [tool.name for tool in tools] == list(TOOLS)
    assert live.rows("SELECT title FROM task WHERE id = %s", added["task_id"]) == [(f"Served by {server}",)]
    assert "Traceback" not in log.read_text()


def test_a_stream_is_refused_cleanly_by_a_stateless_server(live):
    """The 2026-07-28 protocol's subscriptions/listen wants a stream that outlives the request: this
    server has none to give, and says so (406) rather than failing."""

    async def scenario():
        async with connected(live, live.alice) as client:
            with pytest.raises(MCPError):
                async with client.listen(tools_list_changed=True):
                    pass
            return structured(await client.call_tool("list_categories", {}))

    assert asyncio.run(scenario())["categories"]


def list_tools_with(url: str, token: str | None) -> Response:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return post(url, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode(), headers)


def test_without_a_valid_token_the_server_answers_401_naming_its_metadata(live):
    alice = live.user_id("alice@example.com")
    secret = live.env["BETTER_AUTH_SECRET"]
    claims = {"sub": alice, "iss": JWT_ISSUER, "aud": JWT_ISSUER}
    expired = jwt.encode({**claims, "exp": int(time.time()) - 60}, secret, "HS256")
    forged = jwt.encode({**claims, "exp": int(time.time()) + 600}, "not-the-secret-" * 3, "HS256")
    base = live.url.removesuffix("/mcp")

    challenge = f'resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"'

    for token in (None, forged, expired, "made-up-session-token"):
        answer = list_tools_with(live.url, token)
        assert answer.status == 401, token
        refused = 'error="invalid_token", ' if token else ""
        assert answer.headers["WWW-Authenticate"] == f"Bearer {refused}{challenge}"
    assert list_tools_with(live.url, live.alice).status == 200

    metadata = json.loads(get(f"{base}/.well-known/oauth-protected-resource/mcp").body)
    assert metadata["resource"] == live.url
    # BETTER_AUTH_URL names better-auth's base URL, which is its issuer.
    assert metadata["authorization_servers"] == [BETTER_AUTH_URL]


def test_the_stdio_command_serves_the_same_tools_for_its_user(live):
    alice = live.user_id("alice@example.com")
    server = StdioServerParameters(
        command=sys.executable,
        args=["manage.py", "mcp", "--user", "alice@example.com"],
        env=live.env,
        cwd=str(ROOT),
    )

    async def scenario():
        async with Client(server) as client:
            tools = (await client.list_tools()).tools
            added = structured(await client.call_tool("add_task", {"title": "Over stdio", "priority": "low"}))
            completed = structured(await client.call_tool("complete_task", {"task_id": added["task_id"]}))
            return tools, added, completed

    tools, added, completed = asyncio.run(scenario())

    assert [tool.name for tool in tools] == list(TOOLS)
    assert completed == {
        "task_id": added["task_id"],
        "status": "completed",
        "title": "Over stdio",
        "etag": completed["etag"],
    }
    assert completed["etag"] != added["etag"]
    [(owner, done)] = live.rows('SELECT "userId", completed FROM task WHERE id = %s', added["task_id"])
    assert (owner, bool(done)) == (alice, True)


def test_the_stdio_command_needs_a_known_user(live):
    result = manage("mcp", "--user", "nobody@example.com", **live.env)

    assert result.returncode == 1
    assert "No user has the email address or id 'nobody@example.com'." in result.stderr
    assert result.stdout == ""
