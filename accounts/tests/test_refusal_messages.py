"""What a 401 says names what the client sent: a cut or padded JWT is a malformed JWT (not a session
token with a bad signature), an Authorization header of another scheme is not a bearer (not "no
credentials"), and the session cookie at /mcp is a cookie that route does not take. The codes stay
those clients rely on (docs/api.md#error-codes)."""

import base64
import json
from datetime import timedelta

import pytest

from accounts.authentication import NOT_BEARER_SCHEME
from accounts.tokens import mint_jwt
from todos.models import Task

ME = "/api/me"
MCP_CHALLENGE = 'Bearer resource_metadata="http://testserver/.well-known/oauth-protected-resource/mcp"'
MCP_REFUSED = 'Bearer error="invalid_token", resource_metadata="http://testserver/.well-known/oauth-protected-resource/mcp"'
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
PARTS = "The token is not a well-formed JWT: it has {}, where a JWT has 3 (header.payload.signature)."
CUT = PARTS.format("2 parts")
UNSIGNED = "The token is not a well-formed JWT: its signature (the third part) is empty."


def b64url(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def error(response) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


def mcp(client, **headers: str):
    return client.post(
        "/mcp",
        data=json.dumps(LIST_TOOLS),
        content_type="application/json",
        HTTP_ACCEPT="application/json, text/event-stream",
        **headers,
    )


@pytest.fixture
def jwt_parts(user) -> list[str]:
    """A valid JWT of `user`'s, in its three parts."""
    return mint_jwt(user).split(".")


class TestAMalformedJwt:
    @pytest.mark.parametrize(
        ("shape", "message"),
        [
            pytest.param(lambda h, p, s: f"{h}.{p}", CUT, id="header.payload"),
            pytest.param(lambda h, p, s: f"{h}.{p}.", UNSIGNED, id="header.payload."),
            pytest.param(
                lambda h, p, s: h,
                PARTS.format("1 part"),
                id="header",
            ),
            pytest.param(
                lambda h, p, s: f"{h}.{p}.{s}.{s}",
                PARTS.format("4 parts"),
                id="four parts",
            ),
        ],
    )
    def test_is_named_a_malformed_jwt_without_a_query(
        self, api_client, jwt_parts, django_assert_num_queries, shape, message
    ):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {shape(*jwt_parts)}")

        with django_assert_num_queries(0):
            response = api_client.get(ME)

        assert error(response) == (401, "invalid_token", message)
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'

    def test_any_header_before_a_lone_dot_is_a_jwt(self, api_client, db):
        # Not only the jwt plugin's or issue_token's: a JSON object in base64url, with spaces too.
        token = f"{b64url({'typ': 'JWT', 'alg': 'ES256'})}.{b64url({'sub': 'x'})}"

        response = api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")

        assert error(response) == (401, "invalid_token", CUT)

    def test_an_unsigned_alg_none_token_still_names_its_algorithm(self, api_client, jwt_parts):
        header = b64url({"alg": "none", "typ": "JWT"})

        response = api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {header}.{jwt_parts[1]}.")

        assert error(response)[2] == "The token algorithm 'none' is not accepted."

    @pytest.mark.parametrize("signed", [True, False], ids=["signed", "raw"])
    def test_a_session_token_is_still_a_session_token(self, api_client, session, session_cookie, signed):
        token = session_cookie(session.token) if signed else session.token

        assert api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200

    def test_a_session_token_with_a_bad_signature_is_still_named_so(self, api_client, db):
        response = api_client.get(ME, HTTP_AUTHORIZATION="Bearer abc.def")

        assert error(response) == (401, "invalid_token", "The session token signature is invalid.")

    def test_at_mcp_it_is_an_invalid_token_challenge(self, client, jwt_parts):
        response = mcp(client, HTTP_AUTHORIZATION=f"Bearer {jwt_parts[0]}.{jwt_parts[1]}")

        assert error(response) == (401, "invalid_token", CUT)
        assert response["WWW-Authenticate"] == MCP_REFUSED


class TestAnotherAuthorizationScheme:
    @pytest.mark.parametrize(
        "header",
        ["Basic YWxpY2U6c2VjcmV0", "Token abc123", "JWT {jwt}", "{jwt}", "bearer-ish {jwt}"],
        ids=["basic", "token", "jwt scheme", "no scheme", "unknown scheme"],
    )
    def test_says_the_header_must_use_the_bearer_scheme(self, api_client, user, header):
        response = api_client.get(ME, HTTP_AUTHORIZATION=header.format(jwt=mint_jwt(user)))

        assert error(response) == (401, "not_authenticated", NOT_BEARER_SCHEME)
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'

    def test_the_scheme_is_matched_in_any_case(self, api_client, user):
        response = api_client.get(ME, HTTP_AUTHORIZATION=f"BEARER {mint_jwt(user)}")

        assert response.status_code == 200

    def test_with_the_session_cookie_the_cookie_signs_in(self, alice_client, user):
        # A browser behind a proxy with HTTP basic authentication sends both.
        response = alice_client.get(ME, HTTP_AUTHORIZATION="Basic YWxpY2U6c2VjcmV0")

        assert response.status_code == 200
        assert response.json()["data"]["id"] == user.id

    def test_without_any_header_nothing_was_provided(self, api_client, db):
        response = api_client.get(ME)

        assert error(response) == (401, "not_authenticated", "Authentication credentials were not provided.")

    def test_an_empty_header_is_no_header(self, api_client, db):
        response = api_client.get(ME, HTTP_AUTHORIZATION="")

        assert error(response)[2] == "Authentication credentials were not provided."

    def test_at_mcp_the_challenge_asks_for_a_token(self, client, db):
        # RFC 6750 §3.1: another scheme is no credential, so the challenge carries no error.
        response = mcp(client, HTTP_AUTHORIZATION="Basic YWxpY2U6c2VjcmV0")

        assert error(response) == (401, "not_authenticated", NOT_BEARER_SCHEME)
        assert response["WWW-Authenticate"] == MCP_CHALLENGE


class TestTheSessionCookieAtMcp:
    COOKIE_REFUSED = (
        "The session cookie is not accepted at /mcp: send a token in the Authorization header, "
        "`Authorization: Bearer <token>`."
    )

    @pytest.mark.parametrize(
        "origin", [{}, {"HTTP_ORIGIN": "http://localhost:3000"}], ids=["no origin", "front end"]
    )
    def test_says_cookies_are_not_accepted_there(self, client, session, session_cookie, origin):
        client.cookies["better-auth.session_token"] = session_cookie(session.token)

        response = mcp(client, **origin)

        assert error(response) == (401, "not_authenticated", self.COOKIE_REFUSED)
        assert response["WWW-Authenticate"] == MCP_CHALLENGE
        assert not Task.objects.exists()

    def test_the_secure_cookie_too(self, client, session, session_cookie):
        client.cookies["__Secure-better-auth.session_token"] = session_cookie(session.token)

        assert error(mcp(client))[2] == self.COOKIE_REFUSED

    def test_other_cookies_are_no_credential(self, client, db):
        client.cookies["csrftoken"] = "x"

        assert error(mcp(client))[2] == "Authentication credentials were not provided."

    def test_with_a_bearer_token_the_cookie_does_not_matter(self, client, user, session, session_cookie):
        client.cookies["better-auth.session_token"] = session_cookie(session.token)

        response = mcp(client, HTTP_AUTHORIZATION=f"Bearer {mint_jwt(user)}")

        assert response.status_code == 200, response.content

    def test_an_expired_cookie_is_named_the_same(self, client, user, make_session, session_cookie):
        expired = make_session(user, expires_in=timedelta(days=-1))
        client.cookies["better-auth.session_token"] = session_cookie(expired.token)

        assert error(mcp(client)) == (401, "not_authenticated", self.COOKIE_REFUSED)

    def test_the_rest_api_still_takes_the_cookie(self, alice_client):
        assert alice_client.get(ME).status_code == 200
