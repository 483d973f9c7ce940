"""Envelopes, errors and routing that every endpoint shares."""

import pytest


def test_success_is_enveloped(auth_client, user):
    body = auth_client.get("/api/me").json()

    assert set(body) == {"data", "meta"}
    assert body["meta"] == {}
    assert body["data"]["id"] == user.id


@pytest.mark.parametrize("path", ["/api/me", "/api/me/"])
def test_routes_answer_with_and_without_trailing_slash(auth_client, path):
    response = auth_client.get(path)

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_route_is_a_json_404(api_client, method):
    response = getattr(api_client, method)("/api/no-such-thing/42")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_unknown_api_route_is_404_even_with_a_bad_cookie(api_client):
    api_client.cookies["better-auth.session_token"] = "forged.cookie"

    assert api_client.get("/api/nope").status_code == 404


def test_wrong_method_is_a_405_envelope(auth_client):
    response = auth_client.delete("/api/me", HTTP_ORIGIN="http://localhost:3000")

    assert response.status_code == 405
    assert response.json() == {
        "error": {"code": "method_not_allowed", "message": 'Method "DELETE" not allowed.', "details": {}}
    }


@pytest.mark.django_db
def test_unauthenticated_error_envelope(api_client):
    response = api_client.get("/api/me")

    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
            "details": {},
        }
    }


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_public(api_client):
    schema = api_client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = api_client.get("/api/docs")

    assert schema.status_code == 200
    assert "/api/me" in schema.json()["paths"]
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn." not in docs.content  # assets are served by the app itself


@pytest.mark.django_db
def test_cors_allows_the_front_end_with_credentials(api_client):
    response = api_client.options(
        "/api/me", HTTP_ORIGIN="http://localhost:3000", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )

    assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert response["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.django_db
def test_cors_ignores_other_origins(api_client):
    response = api_client.options(
        "/api/me", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )

    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.django_db
def test_openapi_describes_the_envelopes_as_sent(api_client):
    schema = api_client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    task_detail = schema["paths"]["/api/tasks/{id}"]["get"]["responses"]

    assert components["PaginatedTaskList"]["properties"]["meta"]["required"] == [
        "page",
        "page_size",
        "total",
        "pages",
    ]
    assert task_detail["200"]["content"]["application/json"]["schema"]["properties"]["data"] == {
        "$ref": "#/components/schemas/Task"
    }
    assert task_detail["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error404"
    }
    assert components["Error404"]["properties"]["error"]["required"] == ["code", "message", "details"]
    assert components["Error404"]["properties"]["error"]["properties"]["code"]["enum"] == ["not_found"]
    assert set(schema["components"]["securitySchemes"]) == {"bearerAuth", "cookieAuth"}
    assert {tag for path in schema["paths"].values() for op in path.values() for tag in op["tags"]} == {
        "accounts",
        "todos",
        "chat",
        "webhooks",
    }
