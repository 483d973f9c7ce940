"""How the OpenAPI schema describes better-auth authentication (loaded by AccountsConfig.ready)."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BetterAuthScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BetterAuthAuthentication"
    name = ["bearerAuth", "cookieAuth"]

    def get_security_requirement(self, auto_schema):
        return [{"bearerAuth": []}, {"cookieAuth": []}]  # either one

    def get_security_definition(self, auto_schema):
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
