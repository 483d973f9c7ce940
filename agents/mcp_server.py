"""The task tools (agents.tools) as an MCP server: the official SDK's low-level Server, bound to one
user. The tools, their schemas and their validation are the chat assistant's; this module only
speaks MCP (docs/mcp.md).

Two transports:
- Streamable HTTP at /mcp (agents.views.McpView): Django authenticates, throttles and logs the
  request as any other, then `answer_http` lets the SDK's stateless transport answer it, within
  the view, with JSON. Nothing outlives the request, so any worker and any server (granian's
  WSGI, gunicorn, uvicorn's ASGI, runserver) can answer any request, and the REST API's path is
  not touched.
- stdio: `manage.py mcp --user ...` (`serve_stdio`).

The SDK is asynchronous and Django's ORM is not: a tool runs in the request's own thread
(asgiref's `sync_to_async(thread_sensitive=True)` from inside `async_to_sync`), on that thread's
database connection, as the REST views do.
"""

import json
import logging
from collections.abc import Callable
from typing import Any

import mcp_types as types
import pydantic_core
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, close_old_connections
from django.http import HttpRequest, HttpResponse
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from starlette.types import Message, Scope

from accounts.models import User
from agents.tools import TOOLS, Tool, ToolResult, is_error, run_tool
from ironclad.metrics import count_tool_call
from ironclad.untrusted import clip

logger = logging.getLogger(__name__)

SERVER_NAME = "ironclad"
INSTRUCTIONS = (
    "Ironclad keeps the signed-in user's tasks and categories. Every tool acts for that user only. "
    "Tasks go by id: find one with list_tasks (its filters narrow the list) before changing it; "
    "categories go by name (list_categories shows them)."
)
# The request's Host was checked by Django (ALLOWED_HOSTS) and its Origin by McpView.
_CHECKED_BY_DJANGO = TransportSecuritySettings(enable_dns_rebinding_protection=False)
# Credentials stay with Django: the SDK is given none. The answer is always one JSON document, so
# the SDK is told that is all the client accepts: a request only a stream could answer (the
# 2026-07-28 protocol's subscriptions/listen) gets its 406 rather than a stream that never ends.
_NOT_FORWARDED = frozenset({b"authorization", b"cookie", b"content-length", b"accept"})
_ACCEPT_JSON = (b"accept", b"application/json")


def listed_tool(tool: Tool) -> types.Tool:
    """A registry tool as MCP lists it: its schemas and what a client may assume of it."""
    return types.Tool(
        name=tool.name,
        description=tool.description,
        input_schema=tool.parameters,
        output_schema=tool.result_schema,
        annotations=types.ToolAnnotations(
            read_only_hint=tool.read_only,
            destructive_hint=tool.destructive,
            idempotent_hint=tool.idempotent,
            open_world_hint=False,  # only the user's own tasks, nothing beyond Ironclad
        ),
    )


def tool_result(tool: Tool, result: ToolResult) -> types.CallToolResult:
    """A tool's result as MCP answers it: a refusal is an error result whose text a model can act
    on; anything else is structured content (a list under its `list_key`) and the same JSON as
    text, for clients that read only text."""
    if is_error(result):
        return types.CallToolResult(content=[types.TextContent(text=result["error"])], is_error=True)
    structured = result if isinstance(result, dict) else {tool.list_key: result}
    text = json.dumps(structured, ensure_ascii=False)
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=structured)


def run_tool_for_agent(user: User, tool: Tool, arguments: dict[str, Any]) -> ToolResult:
    """run_tool, with every failure as a refusal: an MCP client gets a tool error it can act on
    (retry, or report), never a protocol error that carries an exception's text."""
    try:
        return run_tool(user, tool.name, arguments)
    except IntegrityError:
        logger.info("mcp: %s conflicted with a concurrent change", tool.name)
        return {"error": "The change conflicts with another made at the same time. Try again."}
    except (OperationalError, InterfaceError) as error:  # an outage, or a lock held too long
        logger.warning("mcp: the database failed during %s: %s", tool.name, error.__class__.__name__)
        return {"error": "The database could not complete this call right now. Try again shortly."}
    except Exception:
        logger.exception("mcp: %s failed", tool.name)
        return {"error": "Ironclad failed to run this tool; the failure is logged. Try again later."}


def mcp_server(user: User, *, between_calls: Callable[[], None] | None = None) -> Server:
    """An MCP server whose tools act for `user`. `between_calls` runs before and after each tool
    call, in the tool's thread (the stdio command keeps its database connection fresh with it)."""

    async def handle_list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        # Listed from the registry on each request; their schemas are built once (agents.tools).
        return types.ListToolsResult(tools=[listed_tool(tool) for tool in TOOLS.values()])

    def run_between_calls(tool: Tool, arguments: dict[str, Any]) -> ToolResult:
        if between_calls is not None:
            between_calls()
        try:
            return run_tool_for_agent(user, tool, arguments)
        finally:
            if between_calls is not None:
                between_calls()

    async def handle_call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = TOOLS.get(params.name)
        if tool is None:  # a protocol error, as the MCP specification asks for an unknown tool
            raise MCPError(types.INVALID_PARAMS, f"There is no tool named {clip(params.name)!r}.")
        result = await sync_to_async(run_between_calls, thread_sensitive=True)(tool, params.arguments or {})
        count_tool_call("mcp", tool.name, refused=is_error(result))
        return tool_result(tool, result)

    return Server(
        SERVER_NAME,
        version=settings.VERSION,
        title="Ironclad tasks",
        instructions=INSTRUCTIONS,
        on_list_tools=handle_list_tools,
        on_call_tool=handle_call_tool,
    )


# --- Streamable HTTP --------------------------------------------------------------------------


def answer_http(user: User, request: HttpRequest) -> HttpResponse:
    """The SDK's answer to one streamable HTTP request (stateless, JSON), for `user`."""
    if has_an_invalid_request_id(request.body):
        refusal = types.JSONRPCError(
            jsonrpc="2.0",
            id=None,
            error=types.ErrorData(
                code=types.INVALID_REQUEST,
                message="Invalid Request: a request's id must be a string or an integer.",
            ),
        )
        return HttpResponse(
            refusal.model_dump_json(by_alias=True, exclude_unset=True),
            status=400,
            content_type="application/json",
        )
    status, headers, body = async_to_sync(_exchange)(mcp_server(user), _asgi_scope(request), request.body)
    response = HttpResponse(body, status=status)
    for name, value in headers:
        if name.lower() != b"content-length":
            response[name.decode("latin-1")] = value.decode("latin-1")
    return response


def has_an_invalid_request_id(body: bytes) -> bool:
    """Whether `body` is a request (it has a method and an id) whose id is neither a string nor an
    integer, as MCP requires: the SDK would take it for a notification, run nothing and answer
    202, and the client would wait for an answer that never comes. A body that is not JSON is left
    to the SDK's parse error, and a batch (a JSON array) to its refusal of any array."""
    try:
        message = pydantic_core.from_json(body)  # read as the SDK reads it
    except ValueError:
        return False
    if not isinstance(message, dict) or "method" not in message or "id" not in message:
        return False
    request_id = message["id"]
    return isinstance(request_id, bool) or not isinstance(request_id, int | str)


async def _exchange(server: Server, scope: Scope, body: bytes) -> tuple[int, list[Any], bytes]:
    """Run the SDK's streamable HTTP transport on one request; its status, headers and body."""
    manager = StreamableHTTPSessionManager(
        app=server, json_response=True, stateless=True, security_settings=_CHECKED_BY_DJANGO
    )
    answer: dict[str, Any] = {"status": None, "headers": [], "body": bytearray()}
    request_sent = False

    async def receive() -> Message:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}  # the JSON answer is complete by now

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"], answer["headers"] = message["status"], message.get("headers", [])
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    async with manager.run():
        await manager.handle_request(scope, receive, send)
    if answer["status"] is None:
        raise RuntimeError("the MCP transport sent no response")
    return answer["status"], answer["headers"], bytes(answer["body"])


def _asgi_scope(request: HttpRequest) -> Scope:
    encoded = (
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in request.headers.items()
    )
    headers = [(name, value) for name, value in encoded if name not in _NOT_FORWARDED]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "root_path": "",
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": [*headers, _ACCEPT_JSON],
        "client": (request.META.get("REMOTE_ADDR", ""), 0),
        "server": (request.get_host().rsplit(":", 1)[0], int(request.get_port())),
    }


# --- stdio ------------------------------------------------------------------------------------


def serve_stdio(user: User) -> None:
    """Serve MCP over stdin and stdout for `user` until the client closes stdin."""
    # Each call is like a request: a connection that died while the client was idle (a remote
    # database closes idle ones) is replaced, as Django does between requests.
    server = mcp_server(user, between_calls=close_old_connections)

    async def serve() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    async_to_sync(serve)()
