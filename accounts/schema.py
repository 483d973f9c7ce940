"""How the OpenAPI schema describes better-auth authentication (loaded by AccountsConfig.ready).

Two schemes: `bearerAuth` for both bearer classes (a JWT and a session token travel in the same
header), `cookieAuth` for the session cookie. An operation may use any one of them.
"""

from typing import Any

from django.conf import settings
from drf_spectacular.drainage import set_override
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from accounts.authentication import BearerAuthentication

# Each bearer class registers `bearerAuth`, with the same definition. drf-spectacular warns when two
# classes register one component name, unless one of them says it is meant.
set_override(BearerAuthentication, "suppress_collision_warning", True)


class BearerScheme(OpenApiAuthenticationExtension):
    """JWTAuthentication, BearerSessionAuthentication and any other bearer class."""

    target_class = BearerAuthentication
    match_subclasses = True
    name = "bearerAuth"

    def get_security_requirement(self, auto_schema: AutoSchema) -> list[dict[str, list[Any]]]:
        # Listed once, by the view's first bearer class: the requirements are alternatives.
        bearers = [a for a in auto_schema.view.get_authenticators() if isinstance(a, BearerAuthentication)]
        return [{self.name: []}] if type(bearers[0]) is type(self.target) else []

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT (better-auth jwt plugin or HS256) or a better-auth session token",
        }


class SessionCookieScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.SessionCookieAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": f"{settings.BETTER_AUTH_COOKIE_PREFIX}.session_token",
            "description": "better-auth's signed session cookie; writes also need a trusted Origin.",
        }
