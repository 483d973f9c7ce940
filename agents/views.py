"""/mcp: MCP's streamable HTTP transport over the task tools, and its OAuth protected resource
metadata (docs/mcp.md)."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import (
    AccessTokenAuthentication,
    BearerSessionAuthentication,
    JWTAuthentication,
    UntrustedOrigin,
    is_trusted_origin,
    signed_in_user,
)
from ironclad.untrusted import clip


def refuse_untrusted_origin(request: Request) -> None:
    """The MCP specification's defence against DNS rebinding: a browser's request (it has an
    Origin) must come from the front end's origins or this server's own. Its own only when
    ALLOWED_HOSTS names the hosts: with "*" (DEBUG), a rebinding page's Host would pass as ours."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if "*" in settings.ALLOWED_HOSTS:
        trusted = origin.rstrip("/") in settings.TRUSTED_ORIGINS
    else:
        trusted = is_trusted_origin(request, origin)
    if not trusted:
        raise UntrustedOrigin(f"Requests to /mcp from the origin {clip(origin, 100)!r} are not accepted.")


@extend_schema(exclude=True)  # MCP's own protocol, not a REST route (docs/mcp.md)
class McpView(APIView):
    """MCP's streamable HTTP transport: POST a JSON-RPC message, get the answer as JSON. Stateless:
    no session, no stream to GET (405, as the transport allows)."""

    # OAuth access tokens for this resource, and the REST API's bearer credentials; not the session
    # cookie, which a browser would send on its own.
    authentication_classes = [AccessTokenAuthentication, JWTAuthentication, BearerSessionAuthentication]
    permission_classes = [IsAuthenticated]

    def get_authenticate_header(self, request: Request) -> str:
        """A 401 names the resource's metadata (RFC 9728), where an MCP client learns which
        authorization server gives tokens."""
        return f'Bearer resource_metadata="{metadata_url(request)}"'

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, AuthenticationFailed) and response.status_code == 401:
            # A credential was presented and refused (RFC 6750 §3): a client drops the token and
            # signs in again, where a challenge without an error would only ask for one.
            challenge = f'Bearer error="invalid_token", resource_metadata="{metadata_url(self.request)}"'
            response["WWW-Authenticate"] = challenge
        return response

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        refuse_untrusted_origin(request)  # before anything else runs
        super().initial(request, *args, **kwargs)

    def post(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # On the first MCP request: a worker that serves no agent never loads the SDK (docs/mcp.md).
        from agents.mcp_server import answer_http

        return answer_http(signed_in_user(request), request._request)


def metadata_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("mcp-metadata"))


@require_safe
def mcp_resource_metadata(request: HttpRequest) -> HttpResponseBase:
    """OAuth 2.0 Protected Resource Metadata (RFC 9728) of /mcp: the resource, and the front end's
    better-auth as the server that issues its tokens (its issuer, as RFC 8414 discovery checks it),
    when BETTER_AUTH_URL and MCP_RESOURCE_URL are both set: without the second, /mcp takes no
    OAuth access token."""
    metadata: dict[str, Any] = {
        "resource": settings.MCP_RESOURCE_URL or request.build_absolute_uri(reverse("mcp")),
        "bearer_methods_supported": ["header"],
        "resource_name": "Ironclad",
    }
    if settings.BETTER_AUTH_URL and settings.MCP_RESOURCE_URL:
        metadata["authorization_servers"] = [settings.OAUTH_ISSUER]
    return JsonResponse(metadata, headers={"Cache-Control": "public, max-age=3600"})
