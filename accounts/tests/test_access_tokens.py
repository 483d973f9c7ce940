"""OAuth access tokens for /mcp, attacked through HTTP: better-auth's oauth-provider plugin signs them
(a JWT of type at+jwt, with the jwt plugin's keys), AccessTokenAuthentication takes them on /mcp
only, and every claim it relies on is checked against the settings and the database.

The tokens are built as better-auth 1.7.29 builds them (createJwtAccessToken and createIdToken in
@better-auth/oauth-provider, signed by the jwt plugin's signJWT), for a deployment where the front
end's better-auth is https://app.example.com and /mcp is https://api.example.com/mcp."""

import time
from datetime import timedelta

import jwt
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import OAuthClient, Session, User, generate_id
from accounts.tests.test_jwt_auth import KeyPair
from agents.tests.test_mcp_http import LIST_TOOLS, METADATA_URL, call, rpc
from agents.tools import TOOLS
from todos.models import Task

ME = "/api/me"
ORIGIN = "https://app.example.com"  # better-auth's BETTER_AUTH_URL, and the jwt plugin's iss/aud
ISSUER = f"{ORIGIN}/api/auth"  # better-auth's base URL: the oauth-provider's issuer
RESOURCE = "https://api.example.com/mcp"
USERINFO = f"{ISSUER}/oauth2/userinfo"  # in `aud` too when the scope has openid
SCOPE = "openid profile email offline_access"
REFUSED = f'Bearer error="invalid_token", resource_metadata="{METADATA_URL}"'


@pytest.fixture(autouse=True)
def deployment(settings):
    """The settings config/settings.py derives from BETTER_AUTH_URL=https://app.example.com and
    MCP_RESOURCE_URL=https://api.example.com/mcp, each set: derived ones are computed at import."""
    settings.BETTER_AUTH_URL = ORIGIN
    settings.OAUTH_ISSUER = ISSUER
    settings.JWT_ISSUER = settings.JWT_AUDIENCE = ORIGIN
    settings.MCP_RESOURCE_URL = RESOURCE
    return settings


@pytest.fixture
def key(db) -> KeyPair:
    """The jwt plugin's signing key, in the `jwks` table."""
    return KeyPair("EdDSA").store()


@pytest.fixture
def oauth_client(db) -> OAuthClient:
    """An MCP client, as dynamic registration stores it."""
    return OAuthClient.objects.create(
        client_id=generate_id(), redirect_uris=["http://127.0.0.1:1/callback"], name="An agent"
    )


def access_token_claims(user: User, session: Session | None, client: OAuthClient, **overrides) -> dict:
    """An access token's claims, as better-auth puts them; an override of None leaves a claim out."""
    now = int(time.time())
    claims = {
        "sub": user.id,
        "aud": [RESOURCE, USERINFO],
        "client_id": client.client_id,
        "azp": client.client_id,
        "scope": SCOPE,
        "sid": session.id if session is not None else None,
        "iss": ISSUER,
        "iat": now,
        "exp": now + 3600,
        "jti": generate_id(),
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def id_token_claims(user: User, session: Session, client: OAuthClient) -> dict:
    """An OpenID Connect ID token's claims, as better-auth puts them: for the client, not for us."""
    now = int(time.time())
    return {
        "auth_time": now - 60,
        "acr": "0",
        "iss": ISSUER,
        "sub": user.id,
        "aud": client.client_id,
        "nonce": "n-0S6_WzA2Mj",
        "iat": now,
        "exp": now + 36000,
        "sid": session.id,
    }


@pytest.fixture
def access_token(key, user, session, oauth_client):
    """An access token of `user`'s `session` for `oauth_client`, signed with `key`: valid unless
    `claims` (None leaves one out) or `typ` (None leaves it out) say otherwise."""

    def make(typ: str | None = "at+jwt", **claims) -> str:
        return key.sign(access_token_claims(user, session, oauth_client, **claims), typ=typ)

    return make


def error_of(response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


def refused_on_mcp(client, token: str, code: str = "invalid_token") -> str:
    """Assert /mcp refuses `token` with a 401 of `code` and the invalid_token challenge; its message."""
    response = rpc(client, LIST_TOOLS, token)

    status, error_code, message = error_of(response)
    assert (status, error_code) == (401, code), message
    assert response["WWW-Authenticate"] == REFUSED
    return message


def lists_the_tools(client, token: str) -> bool:
    response = rpc(client, LIST_TOOLS, token)
    assert response.status_code == 200, response.content
    return [tool["name"] for tool in response.json()["result"]["tools"]] == list(TOOLS)


def wrong_audience(audience: str) -> str:
    return f"The token is not for this server: its audience must include {audience!r}."


def wrong_issuer(issuer: str) -> str:
    return f"The token is not from the expected issuer {issuer!r}."


class TestAValidAccessToken:
    def test_lists_the_tools_on_mcp(self, api_client, access_token):
        assert lists_the_tools(api_client, access_token())

    def test_acts_for_its_user(self, api_client, user, access_token):
        response = rpc(api_client, call("add_task", {"title": "By an agent"}), access_token())

        assert response.status_code == 200, response.content
        assert Task.objects.get().user == user

    def test_is_refused_by_the_rest_api(self, api_client, access_token):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token()}")

        assert error_of(api_client.get(ME)) == (
            401,
            "invalid_token",
            "An OAuth access token is accepted only by the resource it names: /mcp.",
        )

    @pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
    def test_its_type_may_be_spelled_as_rfc_9068_allows(self, api_client, access_token, typ):
        assert lists_the_tools(api_client, access_token(typ=typ))

    def test_its_audience_may_be_the_resource_alone(self, api_client, access_token):
        # better-auth's toAudienceClaim: one audience is a string, not a list.
        assert lists_the_tools(api_client, access_token(aud=RESOURCE))

    @pytest.mark.parametrize(
        "claims",
        [{"azp": None}, {"client_id": None}],
        ids=["client_id alone", "azp alone"],
    )
    def test_its_client_may_be_named_by_client_id_or_azp(self, api_client, access_token, claims):
        assert lists_the_tools(api_client, access_token(**claims))

    def test_without_a_session_it_stands_on_its_own(self, api_client, access_token):
        assert lists_the_tools(api_client, access_token(sid=None))

    @pytest.mark.parametrize("disabled", [None, False])
    def test_a_client_not_disabled_is_usable(self, api_client, access_token, oauth_client, disabled):
        OAuthClient.objects.filter(pk=oauth_client.pk).update(disabled=disabled)

        assert lists_the_tools(api_client, access_token())


class TestWhatItIsFor:
    @pytest.mark.parametrize(
        ("audience", "why"),
        [
            pytest.param(
                ["https://other.example.com/mcp", USERINFO], "another resource", id="another resource"
            ),
            pytest.param(USERINFO, "better-auth's userinfo only", id="userinfo only"),
            pytest.param(ORIGIN, "the jwt plugin's audience", id="the origin"),
            pytest.param(f"{RESOURCE}/", "not the exact URL", id="trailing slash"),
        ],
    )
    def test_an_audience_without_this_resource_is_refused(self, api_client, access_token, audience, why):
        assert refused_on_mcp(api_client, access_token(aud=audience)) == wrong_audience(RESOURCE), why

    @pytest.mark.parametrize("issuer", ["https://evil.example/api/auth", ORIGIN, f"{ISSUER}/"])
    def test_another_issuer_is_refused(self, api_client, access_token, issuer):
        assert refused_on_mcp(api_client, access_token(iss=issuer)) == wrong_issuer(ISSUER)

    @pytest.mark.parametrize("claim", ["aud", "iss", "exp"])
    def test_a_missing_claim_is_refused(self, api_client, access_token, claim):
        message = refused_on_mcp(api_client, access_token(**{claim: None}))

        assert message == f'The token is invalid: Token is missing the "{claim}" claim.'

    def test_an_expired_token_is_refused(self, api_client, access_token):
        past = int(time.time()) - 3600

        assert refused_on_mcp(api_client, access_token(iat=past, exp=past + 60)) == "The token has expired."

    def test_a_token_bound_to_a_client_key_is_refused(self, api_client, access_token):
        # better-auth adds `cnf` to a DPoP-bound token; as a plain bearer, a stolen copy would pass.
        token = access_token(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})

        assert (
            refused_on_mcp(api_client, token)
            == "A sender-constrained (DPoP) access token is not accepted here."
        )

    @pytest.mark.parametrize(
        ("unset", "named"),
        [
            (["MCP_RESOURCE_URL"], "MCP_RESOURCE_URL"),
            (["BETTER_AUTH_URL", "OAUTH_ISSUER"], "BETTER_AUTH_URL"),
        ],
        ids=["no MCP_RESOURCE_URL", "no BETTER_AUTH_URL"],
    )
    def test_without_the_settings_for_them_none_is_accepted(
        self, api_client, access_token, deployment, unset, named
    ):
        for name in unset:
            setattr(deployment, name, "")

        message = refused_on_mcp(api_client, access_token())

        assert message.startswith("This server accepts no OAuth access tokens")
        assert named in message


class TestHowItIsSigned:
    @pytest.mark.parametrize("typ", [None, "JWT"], ids=["no typ", "typ JWT"])
    @pytest.mark.parametrize(
        ("jwt_issuer", "message"),
        [
            # Judged as a jwt-plugin token: its issuer is better-auth's base URL, not the origin...
            pytest.param(ORIGIN, wrong_issuer(ORIGIN), id="jwt plugin issuer is the origin"),
            # ... and where jwt.issuer is set for both plugins, its audience is the resource.
            pytest.param(ISSUER, wrong_audience(ORIGIN), id="jwt plugin issuer is the base url"),
        ],
    )
    def test_without_the_access_token_type_it_is_judged_as_a_jwt_plugin_token(
        self, api_client, access_token, deployment, typ, jwt_issuer, message
    ):
        deployment.JWT_ISSUER = jwt_issuer

        assert refused_on_mcp(api_client, access_token(typ=typ)) == message

    def test_hs256_with_the_shared_secret_is_refused(self, api_client, user, session, oauth_client, settings):
        claims = access_token_claims(user, session, oauth_client)
        token = jwt.encode(claims, settings.JWT_SECRET, algorithm="HS256", headers={"typ": "at+jwt"})

        assert refused_on_mcp(api_client, token) == (
            "An OAuth access token must be signed with the jwt plugin's keys."
        )

    def test_an_unsigned_token_is_refused(self, api_client, user, session, oauth_client):
        claims = access_token_claims(user, session, oauth_client)
        token = jwt.encode(claims, None, algorithm="none", headers={"typ": "at+jwt"})

        assert refused_on_mcp(api_client, token) == (
            "An OAuth access token must be signed with the jwt plugin's keys."
        )

    def test_a_key_that_is_not_the_jwt_plugins_is_refused(self, api_client, user, session, oauth_client, key):
        impostor = KeyPair("EdDSA")  # never stored
        claims = access_token_claims(user, session, oauth_client)

        refused_on_mcp(api_client, impostor.sign(claims, typ="at+jwt"))
        impostor.kid = key.kid
        refused_on_mcp(api_client, impostor.sign(claims, typ="at+jwt"))


class TestWhoItIsFrom:
    def test_a_token_naming_no_client_is_refused(self, api_client, access_token):
        message = refused_on_mcp(api_client, access_token(client_id=None, azp=None))

        assert message == "The token names no client."

    def test_an_unknown_client_is_refused(self, api_client, access_token):
        message = refused_on_mcp(api_client, access_token(client_id="no-such-client", azp="no-such-client"))

        assert message == "The token's client is unknown or disabled."

    def test_a_disabled_client_is_refused(self, api_client, access_token, oauth_client):
        token = access_token()
        OAuthClient.objects.filter(pk=oauth_client.pk).update(disabled=True)

        assert refused_on_mcp(api_client, token) == "The token's client is unknown or disabled."

    def test_an_operator_cuts_a_client_off_in_the_admin_and_can_let_it_back(
        self, api_client, operator_client, access_token, oauth_client
    ):
        token = access_token()
        listing = operator_client.get("/admin/accounts/oauthclient/", {"q": "An agent"})
        assert listing.status_code == 200 and oauth_client.client_id.encode() in listing.content

        def act(action: str) -> None:
            answer = operator_client.post(
                "/admin/accounts/oauthclient/",
                {"action": action, "_selected_action": [oauth_client.pk]},
                follow=True,
            )
            assert answer.status_code == 200

        act("disable")
        assert refused_on_mcp(api_client, token) == "The token's client is unknown or disabled."
        act("enable")
        assert lists_the_tools(api_client, token)
        assert (
            operator_client.get(f"/admin/accounts/oauthclient/{oauth_client.pk}/change/").status_code == 200
        )
        assert operator_client.get("/admin/accounts/oauthclient/add/").status_code == 403

    def test_a_deleted_client_is_refused(self, api_client, access_token, oauth_client):
        token = access_token()
        oauth_client.delete()

        assert refused_on_mcp(api_client, token) == "The token's client is unknown or disabled."

    def test_a_signed_out_session_is_refused(self, api_client, access_token, session):
        token = access_token()
        session.delete()  # better-auth's sign-out

        assert refused_on_mcp(api_client, token) == "The token's session has been signed out."

    def test_a_session_of_another_user_is_not_its_session(
        self, api_client, access_token, other_user, make_session
    ):
        token = access_token(sid=make_session(other_user).id)

        assert refused_on_mcp(api_client, token) == "The token's session has been signed out."

    def test_an_expired_session_is_session_expired(self, api_client, access_token, session):
        token = access_token()
        Session.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

        assert (
            refused_on_mcp(api_client, token, "session_expired") == "The session has expired. Sign in again."
        )

    def test_a_deleted_user_is_refused(self, api_client, access_token, user):
        token = access_token()
        user.delete()

        assert refused_on_mcp(api_client, token) == "The token's user does not exist."

    def test_a_client_credentials_token_has_no_user_here(self, api_client, access_token, oauth_client):
        # better-auth makes the client its subject when no user signed in (client_credentials).
        token = access_token(sub=oauth_client.client_id, sid=None, scope="")

        assert refused_on_mcp(api_client, token) == "The token acts for its client, not for a user."

    @pytest.mark.parametrize(
        ("claims", "message"),
        [
            ({"sid": 12}, "The token's 'sid' claim must be a plain string."),
            ({"sid": ["a-session-id"]}, "The token's 'sid' claim must be a plain string."),
            ({"sid": {"id": "a-session-id"}}, "The token's 'sid' claim must be a plain string."),
            ({"sid": "with space"}, "The token's 'sid' claim must be a plain string."),
            ({"client_id": 12}, "The token's 'client_id' claim must be a plain string."),
            ({"client_id": ["a-client"]}, "The token's 'client_id' claim must be a plain string."),
            (
                {"client_id": None, "azp": ["a-client"]},
                "The token's 'client_id' claim must be a plain string.",
            ),
            ({"sub": 12}, "The token is invalid: Subject must be a string."),
            ({"sub": ["a-user"]}, "The token is invalid: Subject must be a string."),
            ({"sub": "with space"}, "The token's user id must be a plain string."),
        ],
        ids=repr,
    )
    def test_claims_that_are_not_plain_strings_are_a_401_not_a_500(
        self, api_client, access_token, claims, message
    ):
        assert refused_on_mcp(api_client, access_token(**claims)) == message


class TestAnIdToken:
    """An ID token tells the client who signed in; it is no credential for us."""

    @pytest.fixture
    def id_token(self, key, user, session, oauth_client) -> str:
        return key.sign(id_token_claims(user, session, oauth_client), typ=None)  # as signJWT: no typ

    @pytest.mark.parametrize(
        ("jwt_issuer", "message"),
        [
            pytest.param(ORIGIN, wrong_issuer(ORIGIN), id="jwt plugin issuer is the origin"),
            pytest.param(ISSUER, wrong_audience(ORIGIN), id="jwt plugin issuer is the base url"),
        ],
    )
    def test_is_refused_by_the_rest_api_and_by_mcp(
        self, api_client, id_token, deployment, jwt_issuer, message
    ):
        deployment.JWT_ISSUER = jwt_issuer
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {id_token}")

        assert error_of(api_client.get(ME)) == (401, "invalid_token", message)
        api_client.credentials()
        assert refused_on_mcp(api_client, id_token) == message


def test_an_access_token_costs_no_more_queries_than_a_session_bearer(
    api_client, access_token, session, session_cookie
):
    """One query loads the token's user, session and client (the signing key is cached)."""
    token = access_token()
    assert lists_the_tools(api_client, token)  # caches the signing key

    with CaptureQueriesContext(connection) as by_access_token:
        assert lists_the_tools(api_client, token)
    with CaptureQueriesContext(connection) as by_session:
        assert lists_the_tools(api_client, session_cookie(session.token))

    assert len(by_access_token) <= len(by_session)
    [holder] = [query["sql"] for query in by_access_token.captured_queries if '"oauthClient"' in query["sql"]]
    assert '"session"' in holder and '"user"' in holder
