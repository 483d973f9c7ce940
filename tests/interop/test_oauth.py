"""MCP clients sign in with OAuth: a real better-auth with its oauth-provider plugin on the database
Ironclad migrated, and the official MCP SDK's client running the whole authorization flow against
/mcp (RFC 9728 discovery, RFC 8414 metadata, dynamic registration, authorization code + PKCE with
a `resource`, consent), then the tokens Ironclad must refuse."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import jwt
import psycopg
import pytest
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, PKCEParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

from tests.interop.conftest import manage
from tests.interop.test_better_auth import sign_up_and_sign_in
from tests.net import Server, free_port, get, post, send, send_json

CALLBACK = "http://127.0.0.1:9/callback"  # never opened: the "browser" below reads the redirect


@dataclass
class Deployment:
    """better-auth (the front end's) and Ironclad on one database, configured for each other."""

    better_auth: Server
    ironclad: Server
    database_url: str

    @property
    def mcp(self) -> str:
        return f"{self.ironclad.url}/mcp"

    @property
    def issuer(self) -> str:
        return f"{self.better_auth.url}/api/auth"


@pytest.fixture
def deploy(harness, fresh_database, start_better_auth, start_ironclad):
    manage(fresh_database, "migrate", "--noinput")

    def start(**better_auth_env: str) -> Deployment:
        better_auth_port, ironclad_port = free_port(), free_port()
        better_auth_url = f"http://127.0.0.1:{better_auth_port}"
        resource = f"http://127.0.0.1:{ironclad_port}/mcp"
        better_auth = start_better_auth(
            fresh_database, port=better_auth_port, MCP_RESOURCE=resource, **better_auth_env
        )
        ironclad = start_ironclad(
            fresh_database,
            PORT=str(ironclad_port),
            BETTER_AUTH_URL=better_auth_url,
            MCP_RESOURCE_URL=resource,
        )
        return Deployment(better_auth, ironclad, fresh_database)

    return start


@dataclass
class Browser:
    """What a person's browser does during the flow: it is signed in to the front end (better-auth's
    cookie), follows the authorization URL to the consent page, and accepts there, as the front
    end's consent page does with better-auth's client (POST /oauth2/consent with the page's
    signed query)."""

    better_auth: Server
    cookie: str
    visited: list[str] = field(default_factory=list)

    def authorize(self, authorization_url: str) -> AuthorizationCodeResult:
        self.visited.append(authorization_url)
        authorized = get(authorization_url, Cookie=self.cookie)
        assert authorized.status == 302, authorized.body
        consent_page = urlsplit(authorized.headers["Location"])
        assert consent_page.path == "/consent", authorized.headers["Location"]

        consented = send_json(
            "POST",
            f"{self.better_auth.url}/api/auth/oauth2/consent",
            {"accept": True, "oauth_query": consent_page.query},
            {"Cookie": self.cookie, "Origin": self.better_auth.url},
        )
        assert consented.status == 200, consented.body
        redirect = urlsplit(consented.json()["url"])
        assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == CALLBACK
        answer = {name: values[0] for name, values in parse_qs(redirect.query).items()}
        return AuthorizationCodeResult(code=answer["code"], state=answer.get("state"), iss=answer.get("iss"))


class MemoryStorage:
    """The SDK's TokenStorage, kept in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@asynccontextmanager
async def signed_in_agent(
    deployment: Deployment, browser: Browser, storage: MemoryStorage
) -> AsyncIterator[Client]:
    """The MCP SDK's client with its OAuth provider: it meets the 401, discovers, registers and
    has the browser authorize, all by itself."""
    pending: list[AuthorizationCodeResult] = []

    async def redirect_handler(authorization_url: str) -> None:
        pending.append(await asyncio.to_thread(browser.authorize, authorization_url))

    async def callback_handler() -> AuthorizationCodeResult:
        return pending.pop()

    oauth = OAuthClientProvider(
        server_url=deployment.mcp,
        client_metadata=OAuthClientMetadata(
            client_name="Interop agent",
            redirect_uris=[AnyUrl(CALLBACK)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    http = httpx2.AsyncClient(auth=oauth, timeout=30)
    async with http, Client(streamable_http_client(deployment.mcp, http_client=http)) as client:
        yield client


def claims_of(token: str) -> dict:
    """What a JWT says, unverified: the client's view of its own token."""
    return jwt.decode(token, options={"verify_signature": False})


def audiences(token: str) -> list[str]:
    audience = claims_of(token)["aud"]
    return [audience] if isinstance(audience, str) else audience


def list_tools(deployment: Deployment, token: str):
    return post(
        deployment.mcp,
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode(),
        {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-11-25",
        },
    )


def me(deployment: Deployment, token: str):
    return get(f"{deployment.ironclad.url}/api/me", Authorization=f"Bearer {token}")


def assert_refused_everywhere(deployment: Deployment, token: str, why: str) -> None:
    on_mcp = list_tools(deployment, token)
    assert on_mcp.status == 401, (why, on_mcp.body)
    assert on_mcp.headers["WWW-Authenticate"].startswith(
        'Bearer error="invalid_token", resource_metadata='
    ), why
    on_api = me(deployment, token)
    assert on_api.status == 401, (why, on_api.body)
    assert on_api.json()["error"]["code"] in {"invalid_token", "session_expired"}, (why, on_api.body)


def token_request(deployment: Deployment, client_id: str, browser: Browser, **extra: str) -> dict:
    """A hand-driven authorization code + PKCE flow for a registered public client, as a client
    that does not send `resource` runs it: the token endpoint's JSON answer."""
    pkce = PKCEParameters.generate()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile email offline_access",
        "state": "s1",
        "code_challenge": pkce.code_challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    code = browser.authorize(f"{deployment.issuer}/oauth2/authorize?{urlencode(query)}").code
    return token_endpoint(
        deployment,
        grant_type="authorization_code",
        code=code,
        redirect_uri=CALLBACK,
        client_id=client_id,
        code_verifier=pkce.code_verifier,
    )


def token_endpoint(deployment: Deployment, **form: str) -> dict:
    """better-auth's token endpoint's JSON answer to `form`, which must be a success."""
    answer = send(
        "POST",
        f"{deployment.issuer}/oauth2/token",
        urlencode(form).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status == 200, answer.body
    return answer.json()


def register(deployment: Deployment) -> str:
    """A public client registered as an MCP client registers itself (RFC 7591); its id."""
    registered = send_json(
        "POST",
        f"{deployment.issuer}/oauth2/register",
        {
            "client_name": "Hand-driven client",
            "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        },
    )
    assert registered.status in (200, 201), registered.body
    return registered.json()["client_id"]


def test_an_mcp_client_signs_in_with_oauth_and_works_on_its_users_tasks_only(deploy):
    deployment = deploy()
    alice = sign_up_and_sign_in(deployment.better_auth, "alice@oauth.test")
    bob = sign_up_and_sign_in(deployment.better_auth, "bob@oauth.test")
    browser = Browser(deployment.better_auth, alice["cookie"])
    storage = MemoryStorage()

    # Bob has a task; Alice's agent must never see it.
    bobs_task = send_json(
        "POST",
        f"{deployment.ironclad.url}/api/tasks",
        {"title": "Bob's secret plan"},
        {"Authorization": f"Bearer {bob['bearer']}"},
    )
    assert bobs_task.status == 201, bobs_task.body

    async def scenario():
        async with signed_in_agent(deployment, browser, storage) as agent:
            tools = [tool.name for tool in (await agent.list_tools()).tools]
            added = await agent.call_tool("add_task", {"title": "Renew passport", "priority": "high"})
            listed = await agent.call_tool("list_tasks", {})
            return tools, added.structured_content, listed.structured_content

    tools, added, listed = asyncio.run(scenario())

    assert "add_task" in tools and "list_tasks" in tools
    assert len(browser.visited) == 1, "the flow ran once"
    authorization = parse_qs(urlsplit(browser.visited[0]).query)
    assert authorization["resource"] == [deployment.mcp]
    assert authorization["code_challenge_method"] == ["S256"]
    assert [task["title"] for task in listed["tasks"]] == ["Renew passport"]
    with psycopg.connect(deployment.database_url) as conn:
        owner = conn.execute('SELECT "userId" FROM task WHERE id = %s', [added["task_id"]]).fetchone()
        registered = conn.execute('SELECT count(*) FROM "oauthClient"').fetchone()
    assert owner == (alice["user_id"],)
    assert registered == (1,), "the client registered itself"

    # The token is better-auth's audience-bound JWT access token for this resource.
    assert storage.tokens is not None
    access_token = storage.tokens.access_token
    assert jwt.get_unverified_header(access_token)["typ"] == "at+jwt"
    claims = claims_of(access_token)
    assert claims["iss"] == deployment.issuer
    assert deployment.mcp in audiences(access_token)
    assert claims["sub"] == alice["user_id"] and claims["sid"]

    # It is a key for /mcp only: the REST API refuses it.
    on_api = me(deployment, access_token)
    assert on_api.status == 401
    assert "/mcp" in on_api.json()["error"]["message"]

    # Signing out ends the session the token was bound to: the token stops working at once.
    assert list_tools(deployment, access_token).status == 200
    signed_out = send_json(
        "POST",
        f"{deployment.better_auth.url}/api/auth/sign-out",
        {},
        {"Cookie": alice["cookie"], "Origin": deployment.better_auth.url},
    )
    assert signed_out.status == 200, signed_out.body
    assert_refused_everywhere(deployment, access_token, "a token after sign-out")

    # An offline_access grant outlives the session, as better-auth designs it: the refresh token
    # gives a new access token with no session, until an operator disables the client.
    assert "offline_access" in authorization["scope"][0].split()
    assert storage.tokens.refresh_token and storage.client_info
    offline_token = token_endpoint(
        deployment,
        grant_type="refresh_token",
        refresh_token=storage.tokens.refresh_token,
        client_id=storage.client_info.client_id,
    )["access_token"]
    assert "sid" not in claims_of(offline_token)
    assert list_tools(deployment, offline_token).status == 200
    with psycopg.connect(deployment.database_url) as conn:
        conn.execute('UPDATE "oauthClient" SET disabled = true')
    assert_refused_everywhere(deployment, offline_token, "a token of a disabled client")


def test_a_client_that_omits_the_resource_still_gets_a_token_for_mcp(deploy):
    deployment = deploy()
    alice = sign_up_and_sign_in(deployment.better_auth, "carol@oauth.test")
    browser = Browser(deployment.better_auth, alice["cookie"])
    client_id = register(deployment)

    tokens = token_request(deployment, client_id, browser)

    assert deployment.mcp in audiences(tokens["access_token"])
    assert list_tools(deployment, tokens["access_token"]).status == 200


def test_tokens_not_bound_to_mcp_are_refused(deploy):
    # Without the front end's hook, a client that names no resource gets an opaque token.
    deployment = deploy(ADD_MISSING_RESOURCE="0")
    alice = sign_up_and_sign_in(deployment.better_auth, "dave@oauth.test")
    browser = Browser(deployment.better_auth, alice["cookie"])
    client_id = register(deployment)

    unbound = token_request(deployment, client_id, browser)
    assert unbound["access_token"].count(".") != 2, "an opaque token, not a JWT"
    assert_refused_everywhere(deployment, unbound["access_token"], "an opaque token")

    # The OIDC ID token that comes with it (the openid scope) is no credential either.
    assert claims_of(unbound["id_token"])["aud"] == client_id
    assert_refused_everywhere(deployment, unbound["id_token"], "an ID token")

    # A token for another resource: the userinfo endpoint's, which better-auth always accepts.
    userinfo = f"{deployment.issuer}/oauth2/userinfo"
    other = token_request(deployment, client_id, browser, resource=userinfo)["access_token"]
    assert audiences(other) == [userinfo]
    assert_refused_everywhere(deployment, other, "a token for another resource")
