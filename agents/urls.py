from django.urls import re_path

from agents.views import McpView, mcp_resource_metadata

# MCP's streamable HTTP transport, and where its clients learn how to get a token (RFC 9728: the
# resource's path after the well-known one; some clients ask at the well-known path alone).
urlpatterns = [
    re_path(r"^mcp/?$", McpView.as_view(), name="mcp"),
    re_path(r"^\.well-known/oauth-protected-resource/mcp/?$", mcp_resource_metadata, name="mcp-metadata"),
    re_path(r"^\.well-known/oauth-protected-resource/?$", mcp_resource_metadata),
]
