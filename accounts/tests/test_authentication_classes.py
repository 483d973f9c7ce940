"""One authentication class per credential: a view that lists one accepts that credential only, and
the default list (all three, bearer first) charges each refused credential to the throttle once."""

import jwt
import pytest
from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import (
    BearerSessionAuthentication,
    JWTAuthentication,
    SessionCookieAuthentication,
    signed_in_user,
)
from accounts.tokens import mint_jwt

COOKIE = "better-auth.session_token"
CHALLENGE = 'Bearer realm="api"'
FRONTEND = "http://localhost:3000"


class SignedInUser(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"id": signed_in_user(request).id})

    def post(self, request: Request) -> Response:
        return Response({"id": signed_in_user(request).id})


# The URLconf of the tests marked `pytest.mark.urls(__name__)`: one view per class.
urlpatterns = [
    path("jwt", SignedInUser.as_view(authentication_classes=[JWTAuthentication])),
    path("bearer-session", SignedInUser.as_view(authentication_classes=[BearerSessionAuthentication])),
    path("cookie", SignedInUser.as_view(authentication_classes=[SessionCookieAuthentication])),
]

VIEWS = {"jwt": "/jwt", "bearer session": "/bearer-session", "cookie": "/cookie"}


@pytest.fixture
def present(api_client, user, session, session_cookie):
    """Give `api_client` one of the three credentials of `user`, by name (a key of VIEWS)."""

    def give(credential: str) -> None:
        if credential == "jwt":
            api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_jwt(user)}")
        elif credential == "bearer session":
            api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {session_cookie(session.token)}")
        else:
            api_client.cookies[COOKIE] = session_cookie(session.token)

    return give


@pytest.mark.urls(__name__)
class TestAViewListingOneClass:
    @pytest.mark.parametrize("accepted", VIEWS)
    @pytest.mark.parametrize("credential", VIEWS)
    def test_accepts_that_credential_only(self, api_client, present, user, accepted, credential):
        present(credential)

        response = api_client.get(VIEWS[accepted])

        if credential == accepted:
            assert response.status_code == 200, response.content
            assert response.json()["data"]["id"] == user.id
        else:
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "not_authenticated"
            assert response["WWW-Authenticate"] == CHALLENGE

    @pytest.mark.parametrize("view", ["jwt", "bearer session"])
    def test_a_bearer_class_refuses_a_malformed_header(self, api_client, db, view):
        response = api_client.get(VIEWS[view], HTTP_AUTHORIZATION="Bearer a b")

        assert (response.status_code, response["WWW-Authenticate"]) == (401, CHALLENGE)
        assert response.json()["error"]["code"] == "invalid_token"

    def test_the_cookie_class_reads_the_cookie_only(self, api_client, present, user):
        # No bearer class listed: the Authorization header is not a credential of this view.
        present("cookie")

        response = api_client.get(VIEWS["cookie"], HTTP_AUTHORIZATION="Bearer not-a-session")

        assert response.status_code == 200
        assert response.json()["data"]["id"] == user.id

    def test_the_cookie_class_keeps_its_origin_rule(self, api_client, present, user):
        present("cookie")

        refused = api_client.post(VIEWS["cookie"], {})
        allowed = api_client.post(VIEWS["cookie"], {}, HTTP_ORIGIN=FRONTEND)

        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "untrusted_origin")
        assert allowed.status_code == 200
        assert allowed.json()["data"]["id"] == user.id

    @pytest.mark.parametrize("view", ["jwt", "bearer session"])
    def test_a_bearer_class_needs_no_origin_to_write(self, api_client, present, user, view):
        present(view)

        assert api_client.post(VIEWS[view], {}, HTTP_ORIGIN="https://evil.example").status_code == 200


REFUSED_CREDENTIALS = {
    "forged jwt": {"HTTP_AUTHORIZATION": f"Bearer {jwt.encode({'sub': 'x', 'exp': 4102444800}, 'a' * 40)}"},
    "unknown session token": {"HTTP_AUTHORIZATION": "Bearer not-a-session"},
    "malformed bearer": {"HTTP_AUTHORIZATION": "Bearer a b"},
    "forged cookie": {"HTTP_COOKIE": f"{COOKIE}=forged.{'A' * 43}="},
}


@pytest.mark.django_db
class TestTheDefaultClasses:
    @pytest.mark.parametrize("headers", REFUSED_CREDENTIALS.values(), ids=REFUSED_CREDENTIALS.keys())
    def test_a_refused_credential_is_charged_once(self, api_client, rates, fresh_throttle_counts, headers):
        rates(anon="1/min")  # a second charge in one request would answer it 429

        statuses = [api_client.get("/api/me", **headers).status_code for _ in range(2)]

        assert statuses == [401, 429]

    @pytest.mark.parametrize("bearer", ["forged jwt", "unknown session token", "malformed bearer"])
    def test_a_refused_bearer_is_not_rescued_by_a_valid_cookie(self, auth_client, bearer):
        response = auth_client.get("/api/me", **REFUSED_CREDENTIALS[bearer])

        assert (response.status_code, response["WWW-Authenticate"]) == (401, CHALLENGE)
        assert response.json()["error"]["code"] == "invalid_token"
