"""/ says what the server is and where its pages are, and the admin is Ironclad's, with its "View
site" link leading there."""

import pytest
from django.urls import resolve

from ironclad import __version__

LINKS = {
    "api_docs": ("/api/docs", "docs"),
    "openapi_schema": ("/api/schema", "schema"),
    "health": ("/health", "health"),
    "admin": ("/admin/", "index"),
    "mcp": ("/mcp", "mcp"),
    "mcp_metadata": ("/.well-known/oauth-protected-resource/mcp", "mcp-metadata"),
}


class TestTheIndex:
    def test_names_the_server_its_version_and_its_pages_in_the_envelope(self, client, db):
        response = client.get("/")

        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert body["meta"] == {}
        assert (body["data"]["name"], body["data"]["version"]) == ("Ironclad", __version__)
        assert body["data"]["links"] == {name: path for name, (path, _) in LINKS.items()}

    @pytest.mark.parametrize("name", LINKS)
    def test_each_link_is_a_route_of_this_server(self, client, db, name):
        path, url_name = LINKS[name]

        assert client.get("/").json()["data"]["links"][name] == path
        assert resolve(path).url_name == url_name

    def test_costs_no_query_whatever_the_request_carries(
        self, client, session, session_cookie, django_assert_num_queries
    ):
        client.cookies["better-auth.session_token"] = session_cookie(session.token)

        with django_assert_num_queries(0):
            response = client.get("/", HTTP_AUTHORIZATION="Bearer forged")

        assert response.status_code == 200

    def test_head_answers_the_headers_alone(self, client, db):
        get, head = client.get("/"), client.head("/")

        assert (head.status_code, head.content) == (200, b"")
        assert head["Content-Length"] == get["Content-Length"]

    @pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
    def test_other_methods_are_405(self, client, db, method):
        response = getattr(client, method)("/")

        assert response.status_code == 405
        assert response["Allow"] == "GET, HEAD"

    def test_is_not_in_the_openapi_schema(self, client, db):
        # Outside /api/, like /health: the schema describes the API.
        schema = client.get("/api/schema?format=json").json()

        assert "/" not in schema["paths"]
        assert all(path.startswith("/api/") for path in schema["paths"])

    def test_other_paths_outside_the_api_are_still_404(self, client, db):
        assert client.get("/nowhere").status_code == 404


class TestTheAdmin:
    def test_is_branded_ironclad(self, operator_client):
        page = operator_client.get("/admin/").content.decode()

        assert "<title>Ironclad administration | Ironclad admin</title>" in page
        assert '<a href="/admin/">Ironclad</a>' in page
        assert "<h1>Ironclad administration</h1>" in page
        assert "Django administration" not in page and "Django site admin" not in page

    def test_its_view_site_link_leads_to_the_index(self, operator_client):
        page = operator_client.get("/admin/").content.decode()

        assert '<a href="/">View site</a>' in page
        assert operator_client.get("/").json()["data"]["name"] == "Ironclad"

    def test_its_sign_in_page_is_branded_too(self, client, db):
        page = client.get("/admin/login/").content.decode()

        assert "Ironclad" in page and "Django administration" not in page
