"""Credentials Ironclad hands out itself: HS256 JWTs and better-auth session cookies.

Both are read back by `accounts.authentication`; this module only writes them.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import jwt
from django.conf import settings

from accounts.authentication import SESSION_COOKIE_NAME, sign_session_token
from accounts.models import User

DEFAULT_JWT_LIFETIME = timedelta(days=1)


def mint_jwt(user: User, lifetime: timedelta = DEFAULT_JWT_LIFETIME) -> str:
    """An HS256 JWT for `user`, signed with JWT_SECRET, from JWT_ISSUER for JWT_AUDIENCE."""
    now = datetime.now(UTC)
    claims = {
        "sub": user.id,
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "iat": now,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, settings.JWT_SECRET, algorithm="HS256")


def session_cookie_header(token: str) -> str:
    """`<name>=<value>` for a `Cookie:` header, the value signed and URL-encoded as better-auth sets it."""
    value = quote(sign_session_token(token, settings.BETTER_AUTH_SECRET), safe="")
    return f"{settings.BETTER_AUTH_COOKIE_PREFIX}.{SESSION_COOKIE_NAME}={value}"
