"""/: what this server is and where its pages are, for a person or a client that opens its address
(the admin's "View site" link leads here). Public, and no database query."""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

DESCRIPTION = (
    "The REST API, MCP server and admin of a multi-user todo app with an AI chat assistant, for people "
    "signed in with better-auth."
)


@require_safe
def index(request: HttpRequest) -> JsonResponse:
    """The API's envelope, {"data", "meta"}, with the server's name, version and links."""
    links = {
        "api_docs": reverse("docs"),
        "openapi_schema": reverse("schema"),
        "health": reverse("health"),
        "admin": reverse("admin:index"),
        "mcp": reverse("mcp"),
        "mcp_metadata": reverse("mcp-metadata"),
    }
    data = {"name": "Ironclad", "version": settings.VERSION, "description": DESCRIPTION, "links": links}
    return JsonResponse({"data": data, "meta": {}})
