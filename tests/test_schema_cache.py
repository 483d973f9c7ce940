"""/api/schema is generated once per process (per version and language asked for) and each of its
renderings made once, and answers exactly what drf-spectacular's own view answers, for every
format."""

import pytest
from django.test import RequestFactory
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView

from ironclad import schema_view
from ironclad.schema_view import forget_schemas

pytestmark = pytest.mark.django_db

JSON = "application/vnd.oai.openapi+json"
# (query parameters, Accept): each way the view picks a format, a version or a language.
VARIANTS = {
    "yaml by default": ({}, None),
    "yaml asked for": ({}, "application/yaml"),
    "?format=json": ({"format": "json"}, None),
    "openapi+json": ({}, JSON),
    "application/json": ({}, "application/json"),
    "json indented": ({}, f"{JSON}; indent=2"),
    "another language": ({"lang": "de"}, None),
    "a version": ({"version": "v2"}, JSON),
}


@pytest.fixture
def counted(monkeypatch) -> dict[str, int]:
    """How many times drf-spectacular generated a schema and rendered one as YAML or JSON, from now
    on, with nothing kept from before."""
    counts = {"generated": 0, "yaml": 0, "json": 0}

    def counting(name: str, original):
        def method(*args, **kwargs):
            counts[name] += 1
            return original(*args, **kwargs)

        return method

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting("generated", SchemaGenerator.get_schema))
    monkeypatch.setattr(OpenApiYamlRenderer, "render", counting("yaml", OpenApiYamlRenderer.render))
    monkeypatch.setattr(OpenApiJsonRenderer, "render", counting("json", OpenApiJsonRenderer.render))
    forget_schemas()
    return counts


def headers(accept: str | None) -> dict[str, str]:
    return {} if accept is None else {"HTTP_ACCEPT": accept}


def test_the_second_request_generates_and_renders_nothing(client, counted, django_assert_num_queries):
    first = client.get("/api/schema")
    assert counted == {"generated": 1, "yaml": 1, "json": 0}

    with django_assert_num_queries(0):
        second = client.get("/api/schema")

    assert counted == {"generated": 1, "yaml": 1, "json": 0}
    assert (second.status_code, second.content) == (200, first.content)


def test_both_formats_come_from_the_one_schema(client, counted):
    yaml = client.get("/api/schema")
    json = client.get("/api/schema", {"format": "json"})
    again = (client.get("/api/schema"), client.get("/api/schema", {"format": "json"}))

    assert counted == {"generated": 1, "yaml": 1, "json": 1}
    assert yaml["Content-Type"] == "application/vnd.oai.openapi; charset=utf-8"
    assert yaml.content.startswith(b"openapi: 3.0.3\n")
    assert json["Content-Type"] == JSON
    assert json.json()["openapi"] == "3.0.3"
    assert "/api/tasks" in json.json()["paths"]
    assert [response.content for response in again] == [yaml.content, json.content]


def test_head_answers_from_what_is_kept(client, counted):
    client.get("/api/schema")

    head = client.head("/api/schema")

    assert (head.status_code, head.content) == (200, b"")
    assert counted == {"generated": 1, "yaml": 1, "json": 0}


@pytest.mark.parametrize("variant", VARIANTS)
def test_answers_what_drf_spectacular_answers(client, variant):
    query, accept = VARIANTS[variant]
    forget_schemas()
    fresh = SpectacularAPIView.as_view()(RequestFactory().get("/api/schema", query, **headers(accept)))
    fresh.render()

    for _ in ("made", "kept"):
        served = client.get("/api/schema", query, **headers(accept))

        assert served.status_code == fresh.status_code == 200
        assert served.content == fresh.content
        for name in ("Content-Type", "Content-Disposition"):
            assert served[name] == fresh[name], name


def test_a_version_and_a_language_each_have_their_own_schema(client, counted):
    plain = client.get("/api/schema", {"format": "json"}).json()
    versioned = client.get("/api/schema", {"format": "json", "version": "v2"}).json()
    german = client.get("/api/schema", {"format": "json", "lang": "de"}).json()
    client.get("/api/schema", {"format": "json", "version": "v2"})

    assert counted["generated"] == 3
    assert versioned["info"]["version"].endswith("(v2)") and not plain["info"]["version"].endswith("(v2)")
    assert german != plain


def test_what_clients_choose_keeps_a_bounded_number(client, counted):
    for number in range(schema_view.KEPT + 3):
        client.get("/api/schema", {"format": "json", "version": f"v{number}"})

    assert counted["generated"] == schema_view.KEPT + 3
    assert len(schema_view._schemas) <= schema_view.KEPT
    assert len(schema_view._renderings) <= schema_view.KEPT


def test_a_client_asking_for_new_versions_never_evicts_the_schema_in_use(client, counted):
    client.get("/api/schema")
    for number in range(3 * schema_view.KEPT):
        client.get("/api/schema", {"version": f"v{number}"})
        client.get("/api/schema")

    assert counted["generated"] == 1 + 3 * schema_view.KEPT  # the plain one once


def test_a_changed_setting_makes_it_again(client, counted, settings):
    client.get("/api/schema")

    settings.SPECTACULAR_SETTINGS = {**settings.SPECTACULAR_SETTINGS}
    client.get("/api/schema")

    assert counted["generated"] == 2
