"""How the OpenAPI schema describes better-auth authentication (loaded by AccountsConfig.ready)."""

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class BetterAuthScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BetterAuthAuthentication"
    name = ["bearerAuth", "cookieAuth"]

    def get_security_requirement(self, auto_schema: AutoSchema) -> list[dict[str, list[Any]]]:
        return [{"bearerAuth": []}, {"cookieAuth": []}]  # either one

    def get_security_definition(self, auto_schema: AutoSchema) -> list[dict[str, Any]]:
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT (better-auth jwt plugin or HS256) or a better-auth session token",
            },
            {
                "type": "apiKey",
                "in": "cookie",
                "name": f"{settings.BETTER_AUTH_COOKIE_PREFIX}.session_token",
                "description": "better-auth's signed session cookie; writes also need a trusted Origin.",
            },
        ]
