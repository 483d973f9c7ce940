"""/mcp as HTTP sees it: the REST API's bearer credentials, a 401 that names the resource
metadata, the MCP specification's Origin rule, the per-user throttle, and the RFC 9728 document.
The protocol itself, with the SDK's own clients against a live server: test_mcp_clients.py."""

import json
import threading
from datetime import timedelta

import jwt
import psycopg
import pytest
from django.db import connection
from django.test import Client

from accounts.tokens import mint_jwt
from agents.tools import TOOLS
from tests.net import the_test_database_url, wait_until_blocked_on_a_lock
from todos.models import Task

ACCEPT = "application/json, text/event-stream"
METADATA_URL = "http://testserver/.well-known/oauth-protected-resource/mcp"
# Without a credential, the 401 asks for one; with a refused one, it says so (RFC 6750 §3).
CHALLENGE = f'Bearer resource_metadata="{METADATA_URL}"'
REFUSED = f'Bearer error="invalid_token", resource_metadata="{METADATA_URL}"'
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def rpc(client, message: dict | list, token: str | None = None, **headers: str):
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(
        "/mcp",
        data=json.dumps(message),
        content_type="application/json",
        **{"HTTP_ACCEPT": ACCEPT, "HTTP_MCP_PROTOCOL_VERSION": "2025-11-25", **headers},
    )


def call(name: str, arguments: dict) -> dict:
    return {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


@pytest.fixture
def token(user) -> str:
    return mint_jwt(user)


class TestCredentials:
    def test_a_jwt_lists_the_tools(self, client, token):
        response = rpc(client, LIST_TOOLS, token)

        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/json"
        assert [tool["name"] for tool in response.json()["result"]["tools"]] == list(TOOLS)

    def test_a_bearer_session_token_acts_for_its_user(self, client, user, session, session_cookie):
        response = rpc(client, call("add_task", {"title": "By session"}), session_cookie(session.token))

        assert response.status_code == 200, response.content
        assert Task.objects.get().user == user

    def test_without_a_credential_401_names_the_metadata(self, client, user):
        response = rpc(client, LIST_TOOLS)

        assert (response.status_code, response["WWW-Authenticate"]) == (401, CHALLENGE)
        assert response.json()["error"]["code"] == "not_authenticated"

    @pytest.mark.parametrize(
        "credential",
        [
            pytest.param("not-a-session", id="unknown session token"),
            pytest.param(
                jwt.encode({"sub": "x", "iss": "ironclad", "aud": "ironclad", "exp": 4102444800}, "a" * 40),
                id="forged jwt",
            ),
        ],
    )
    def test_a_refused_credential_is_an_invalid_token_challenge(self, client, user, credential):
        response = rpc(client, LIST_TOOLS, credential)

        assert (response.status_code, response["WWW-Authenticate"]) == (401, REFUSED)
        assert response.json()["error"]["code"] == "invalid_token"

    def test_an_expired_session_token_is_401(self, client, user, make_session, session_cookie):
        expired = make_session(user, expires_in=timedelta(days=-1))

        response = rpc(client, LIST_TOOLS, session_cookie(expired.token))

        assert (response.status_code, response["WWW-Authenticate"]) == (401, REFUSED)
        assert response.json()["error"]["code"] == "session_expired"

    def test_an_expired_jwt_is_401(self, client, user):
        expired = mint_jwt(user, lifetime=timedelta(seconds=-1))

        response = rpc(client, call("add_task", {"title": "Late"}), expired)

        assert (response.status_code, response["WWW-Authenticate"]) == (401, REFUSED)
        assert response.json()["error"]["message"] == "The token has expired."
        assert not Task.objects.exists()

    def test_the_session_cookie_is_not_a_credential_here(self, client, session, session_cookie):
        client.cookies["better-auth.session_token"] = session_cookie(session.token)

        response = rpc(client, call("add_task", {"title": "By cookie"}))

        assert response.status_code == 401
        assert not Task.objects.exists()

    def test_the_session_cookie_is_refused_even_from_the_front_end(self, client, session, session_cookie):
        client.cookies["better-auth.session_token"] = session_cookie(session.token)

        response = rpc(client, LIST_TOOLS, HTTP_ORIGIN="http://localhost:3000")

        assert (response.status_code, response["WWW-Authenticate"]) == (401, CHALLENGE)
        assert response.json()["error"]["code"] == "not_authenticated"

    def test_a_malformed_bearer_is_invalid_token(self, client, user):
        response = rpc(client, LIST_TOOLS, "a b")

        assert (response.status_code, response["WWW-Authenticate"]) == (401, REFUSED)
        assert response.json()["error"]["code"] == "invalid_token"

    def test_behind_a_tls_proxy_the_metadata_url_is_https(self, client, user, settings):
        settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

        response = rpc(client, LIST_TOOLS, HTTP_X_FORWARDED_PROTO="https", SERVER_PORT="443")

        assert response["WWW-Authenticate"] == CHALLENGE.replace("http://", "https://")

    def test_behind_a_tls_proxy_a_refusal_names_the_https_metadata_url(self, client, user, settings):
        settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

        response = rpc(client, LIST_TOOLS, "not-a-session", HTTP_X_FORWARDED_PROTO="https", SERVER_PORT="443")

        assert response["WWW-Authenticate"] == REFUSED.replace("http://", "https://")


class TestOrigin:
    @pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost:3000.evil.example"])
    def test_an_untrusted_origin_is_refused_before_anything_runs(self, client, token, origin):
        response = rpc(client, call("add_task", {"title": "Rebound"}), token, HTTP_ORIGIN=origin)

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "untrusted_origin"
        assert not Task.objects.exists()

    def test_a_dns_rebinding_page_is_not_its_own_origin_when_any_host_is_allowed(
        self, client, token, settings
    ):
        settings.ALLOWED_HOSTS = ["*"]  # as with DEBUG on
        rebound = {"HTTP_HOST": "rebound.example:7860", "HTTP_ORIGIN": "http://rebound.example:7860"}

        response = rpc(client, call("add_task", {"title": "Rebound"}), token, **rebound)

        assert response.status_code == 403
        assert not Task.objects.exists()

    def test_an_untrusted_origin_without_a_credential_is_403_too(self, client):
        assert rpc(client, LIST_TOOLS, HTTP_ORIGIN="http://evil.example").status_code == 403

    @pytest.mark.parametrize("origin", ["http://localhost:3000", "http://testserver"])
    def test_the_front_end_and_this_server_are_trusted(self, client, token, origin):
        assert rpc(client, LIST_TOOLS, token, HTTP_ORIGIN=origin).status_code == 200


class TestHttp:
    @pytest.mark.parametrize("method", ["get", "delete", "put"])
    def test_a_stateless_server_only_takes_posts(self, client, token, method):
        response = getattr(client, method)("/mcp", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT=ACCEPT)

        assert response.status_code == 405
        assert response["Allow"] == "POST, OPTIONS"

    def test_no_session_is_kept(self, client, token):
        response = rpc(client, LIST_TOOLS, token)

        assert "Mcp-Session-Id" not in response

    def test_with_and_without_a_trailing_slash(self, client, token):
        response = client.post(
            "/mcp/",
            data=json.dumps(LIST_TOOLS),
            content_type="application/json",
            HTTP_ACCEPT=ACCEPT,
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

        assert response.status_code == 200

    def test_a_message_that_is_not_json_rpc_is_the_sdks_400(self, client, token):
        response = client.post(
            "/mcp",
            data="{",
            content_type="application/json",
            HTTP_ACCEPT=ACCEPT,
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32700  # JSON-RPC's parse error

    @pytest.mark.parametrize("request_id", [1.5, 1.0, None, True, {}, []], ids=repr)
    def test_a_request_whose_id_is_not_a_string_or_an_integer_is_refused(self, client, token, request_id):
        # The SDK would take it for a notification: 202, and no answer ever for the client.
        response = rpc(client, {**call("add_task", {"title": "Lost"}), "id": request_id}, token)

        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert response.json() == {
            "jsonrpc": "2.0",
            "id": None,
            "error": {
                "code": -32600,  # JSON-RPC's invalid request
                "message": "Invalid Request: a request's id must be a string or an integer.",
            },
        }
        assert not Task.objects.exists()

    @pytest.mark.parametrize("request_id", ["", "a-string", 0, -7, 2**63])
    def test_a_string_or_an_integer_id_is_answered_with_it(self, client, token, request_id):
        response = rpc(client, {**LIST_TOOLS, "id": request_id}, token)

        assert response.status_code == 200
        assert response.json()["id"] == request_id

    def test_a_notification_has_no_id_and_is_accepted(self, client, token):
        response = rpc(client, {"jsonrpc": "2.0", "method": "notifications/initialized"}, token)

        assert (response.status_code, response.content) == (202, b"")

    @pytest.mark.parametrize("request_id", [1, 1.5], ids=repr)
    def test_a_batch_is_the_sdks_400_and_runs_nothing(self, client, token, request_id):
        # The transport takes one message per request: a batch needs no check of its ids.
        batch = [{**call("add_task", {"title": "Batched"}), "id": request_id}]
        response = rpc(client, batch, token)

        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32602  # the SDK's validation error
        assert not Task.objects.exists()

    @pytest.mark.parametrize(
        "params",
        [{"name": "drop_tables", "arguments": {}}, {"name": "list_tasks", "arguments": ["pending"]}],
        ids=["unknown tool", "arguments not an object"],
    )
    def test_only_what_the_protocol_refuses_is_a_json_rpc_error(self, client, token, params):
        response = rpc(client, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}, token)

        assert response.status_code == 200
        assert response.json()["error"]["code"] == -32602  # invalid params

    def test_a_database_text_it_cannot_store_is_a_tool_error(self, client, token):
        response = rpc(client, call("add_task", {"title": "Nul\x00"}), token)

        result = response.json()["result"]
        assert result["isError"] is True
        assert "NUL" in result["content"][0]["text"]
        assert not Task.objects.exists()

    def test_the_throttle_counts_per_user(self, client, token, other_user, rates, fresh_throttle_counts):
        rates(user="3/min")
        bobs = mint_jwt(other_user)

        statuses = [rpc(client, LIST_TOOLS, token).status_code for _ in range(4)]

        assert statuses == [200, 200, 200, 429]
        assert rpc(client, LIST_TOOLS, bobs).status_code == 200


class TestResourceMetadata:
    """Derived settings are computed when the settings load: each test sets all it relies on."""

    @pytest.fixture
    def oauth(self, settings):
        # As config/settings.py derives them from BETTER_AUTH_URL="https://app.example.com".
        settings.BETTER_AUTH_URL = "https://app.example.com"
        settings.OAUTH_ISSUER = "https://app.example.com/api/auth"
        settings.MCP_RESOURCE_URL = "https://api.example.com/mcp"
        return settings

    @pytest.mark.parametrize(
        "path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
    )
    def test_names_the_resource_and_better_auths_issuer(self, client, oauth, path):
        response = client.get(path)

        assert response.status_code == 200
        assert response.json() == {
            "resource": "https://api.example.com/mcp",
            "authorization_servers": ["https://app.example.com/api/auth"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Ironclad",
        }
        assert response.json()["authorization_servers"] == [oauth.OAUTH_ISSUER]

    def test_without_mcp_resource_url_no_authorization_server_is_named(self, client, oauth):
        # /mcp then accepts no OAuth access token: sending a client for one would be a dead end.
        oauth.MCP_RESOURCE_URL = ""

        metadata = client.get("/.well-known/oauth-protected-resource/mcp").json()

        assert "authorization_servers" not in metadata
        assert metadata["resource"] == "http://testserver/mcp"

    def test_without_better_auth_url_no_authorization_server_is_named(self, client, oauth):
        oauth.BETTER_AUTH_URL = ""

        assert "authorization_servers" not in client.get("/.well-known/oauth-protected-resource/mcp").json()

    def test_a_browser_client_of_a_trusted_origin_may_read_it(self, client):
        response = client.get(
            "/.well-known/oauth-protected-resource/mcp", HTTP_ORIGIN="http://localhost:3000"
        )

        assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"

    def test_only_read(self, client):
        assert client.post("/.well-known/oauth-protected-resource/mcp").status_code == 405


@pytest.mark.postgres("row locks are proven on PostgreSQL")
def test_a_database_failure_is_a_tool_error_to_retry(client, transactional_db, user, make_task):
    """A task locked by another transaction past lock_timeout: PostgreSQL refuses the update, and
    the agent gets a tool error it can retry, not a broken response."""
    task = make_task(user, "Locked")
    with psycopg.connect(the_test_database_url()) as other:
        other.execute("SELECT id FROM task WHERE id = %s FOR UPDATE", [task.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '100ms'")
        response = rpc(client, call("complete_task", {"task_id": task.pk}), mint_jwt(user))

    result = response.json()["result"]
    assert (response.status_code, result["isError"]) == (200, True)
    assert (
        result["content"][0]["text"]
        == "The database could not complete this call right now. Try again shortly."
    )
    task.refresh_from_db()
    assert task.completed is False


def complete_in_a_thread_of_its_own(task: Task, user):
    try:
        return rpc(Client(), call("complete_task", {"task_id": task.pk}), mint_jwt(user))
    finally:
        connection.close()  # this thread's own connection


@pytest.mark.postgres("row locks are proven on PostgreSQL")
def test_a_task_deleted_while_a_call_waits_for_it_is_a_tool_error(transactional_db, user, make_task):
    """complete_task finds the task, then waits for its row lock while another request deletes it."""
    task = make_task(user, "Going")
    answers = []
    with psycopg.connect(the_test_database_url()) as other:
        other.execute("SELECT id FROM task WHERE id = %s FOR UPDATE", [task.pk])
        caller = threading.Thread(target=lambda: answers.append(complete_in_a_thread_of_its_own(task, user)))
        caller.start()
        wait_until_blocked_on_a_lock('SELECT "task"')
        other.execute("DELETE FROM task WHERE id = %s", [task.pk])
        other.commit()
        caller.join(timeout=30)

    [response] = answers
    result = response.json()["result"]
    assert result["isError"] is True
    assert (
        result["content"][0]["text"] == "It was deleted while this call ran; list again to see what is left."
    )
