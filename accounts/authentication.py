"""DRF authentication for people signed in with better-auth (docs/better-auth.md; the session and
jwks tables: docs/database.md).

One class per credential, as DRF's own: JWTAuthentication (a bearer JWT),
BearerSessionAuthentication (a bearer better-auth session token),
SessionCookieAuthentication (better-auth's signed session cookie, with its Origin rule) and
AccessTokenAuthentication (an OAuth access token, which only /mcp lists). A view lists the ones it
accepts; REST_FRAMEWORK's default lists the first three, the bearer ones first, so that an
`Authorization: Bearer` credential decides when present. A class returns None when the request
does not carry its credential; with none at all, the permission class answers 401
`not_authenticated`, whose message says what the request held instead, if anything
(`unaccepted_credential`: an Authorization header of another scheme, a cookie at /mcp).
"""

import base64
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any, TypeIs, cast
from urllib.parse import unquote, urlsplit

import jwt
from django.conf import settings
from django.core.cache import cache, caches
from jwt.types import Options
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.models import Jwks, Session, User
from ironclad import sql
from ironclad.throttling import charge_failed_credential
from ironclad.untrusted import clip, is_plain_token

SESSION_COOKIE_NAME = "session_token"
# base64 of a 32-byte HMAC-SHA256 digest, with padding.
SIGNATURE_LENGTH = 44
ASYMMETRIC_ALGORITHMS = frozenset({"EdDSA", "ES256", "ES512", "RS256", "PS256"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# 9999-12-31T23:59:59Z: the last second a datetime can hold.
LATEST_NUMERIC_DATE = 253_402_300_799

# Column lists come from the models; only the parameter is variable.
SESSION_WITH_USER = (
    f"SELECT {sql.columns(Session, 's')}, {sql.columns(User, 'u')} "  # noqa: S608
    'FROM "session" s JOIN "user" u ON u."id" = s."userId" WHERE s."token" = %s'
)
USER_BY_ID = f'SELECT {sql.columns(User, "u")} FROM "user" u WHERE u."id" = %s'  # noqa: S608
# An access token's user, its session (all NULL without one) and whether its client exists and
# is not disabled: what `authenticate_access_token` checks, in one query.
ACCESS_TOKEN_HOLDER = (
    f"SELECT {sql.columns(User, 'u')}, {sql.columns(Session, 's')}, "  # noqa: S608
    'c."clientId" IS NOT NULL AND c."disabled" IS NOT TRUE FROM "user" u '
    'LEFT JOIN "session" s ON s."id" = %s AND s."userId" = u."id" '
    'LEFT JOIN "oauthClient" c ON c."clientId" = %s WHERE u."id" = %s'
)
# RFC 9068's media type of a JWT access token; `typ` may leave out "application/".
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})


class InvalidToken(exceptions.AuthenticationFailed):
    default_detail = "The credential is invalid."
    default_code = "invalid_token"


class SessionExpired(exceptions.AuthenticationFailed):
    default_detail = "The session has expired. Sign in again."
    default_code = "session_expired"


class SigningKeysUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "The token signing keys cannot be fetched right now. Try again shortly."
    default_code = "jwks_unavailable"


class UntrustedOrigin(exceptions.PermissionDenied):
    default_detail = "Cookie-authenticated writes must come from a trusted origin."
    default_code = "untrusted_origin"


def session_signature(token: str, secret: str) -> str:
    """base64(HMAC-SHA256(secret, token)), as better-auth signs its session cookie."""
    digest = hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_session_token(token: str, secret: str) -> str:
    """The value better-auth puts in its session cookie, before URL encoding."""
    return f"{token}.{session_signature(token, secret)}"


def unsign_session_token(signed: str, secret: str) -> str | None:
    """The token inside a signed value, or None when the signature does not match."""
    token, dot, signature = signed.rpartition(".")
    if not dot or not token or len(signature) != SIGNATURE_LENGTH or not signature.endswith("="):
        return None
    if not hmac.compare_digest(session_signature(token, secret).encode(), signature.encode()):
        return None
    return token


class CredentialAuthentication(BaseAuthentication):
    """The base of the classes below: each authenticates one credential, and a refused one is
    charged to the failed-credential throttle."""

    www_authenticate_realm = "api"

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'

    def authenticate(self, request: Request) -> tuple[User, object] | None:
        try:
            return self.authenticate_credential(request)
        except exceptions.AuthenticationFailed:
            # DRF checks throttles only after authentication succeeds: without this, requests with
            # made-up credentials would never be counted. DRF stops at the first class that raises,
            # so a request is charged once.
            charge_failed_credential(request)
            raise

    def authenticate_credential(self, request: Request) -> tuple[User, object] | None:
        """The user of this class's credential and what it was proven by; None when the request
        does not carry that credential; AuthenticationFailed when it does not hold."""
        raise NotImplementedError

    def explain_missing_credential(self, request: Request) -> str | None:
        """Why `request`, which no class of its view signed in, holds no credential, when it holds
        what its client took for one: ironclad.errors answers 401 `not_authenticated` with it."""
        return unaccepted_credential(request)


class BearerAuthentication(CredentialAuthentication):
    """An `Authorization: Bearer` credential of the kind a subclass `claims`. Every bearer token
    is either a JWT or a session token, so with both classes listed a bearer decides: a bad one
    is refused before a later class (the cookie) is tried."""

    def authenticate_credential(self, request: Request) -> tuple[User, object] | None:
        token = bearer_token(request)
        if token is None or not self.claims(token):
            return None
        return self.authenticate_token(token)

    def claims(self, token: str) -> bool:
        """Whether `token` is this class's kind of bearer credential."""
        raise NotImplementedError

    def authenticate_token(self, token: str) -> tuple[User, object]:
        raise NotImplementedError


class JWTAuthentication(BearerAuthentication):
    """A bearer JWT: HS256 with JWT_SECRET, or better-auth's jwt plugin keys, for JWT_AUDIENCE.
    It refuses an OAuth access token, which is for the resource that lists
    AccessTokenAuthentication before it (/mcp)."""

    def claims(self, token: str) -> bool:
        return is_jwt(token)

    def authenticate_token(self, token: str) -> tuple[User, object]:
        return authenticate_jwt(token)


class AccessTokenAuthentication(BearerAuthentication):
    """An OAuth access token of better-auth's oauth-provider plugin (a JWT of type at+jwt) for
    MCP_RESOURCE_URL."""

    def claims(self, token: str) -> bool:
        return is_jwt(token) and is_access_token(unverified_header(token, strict=False))

    def authenticate_token(self, token: str) -> tuple[User, object]:
        return authenticate_access_token(token)


class BearerSessionAuthentication(BearerAuthentication):
    """A better-auth session token as a bearer (the bearer plugin's), signed or raw: any bearer
    token that is not a JWT."""

    def claims(self, token: str) -> bool:
        return not is_jwt(token)

    def authenticate_token(self, token: str) -> tuple[User, object]:
        return authenticate_bearer_session(token)


class SessionCookieAuthentication(CredentialAuthentication):
    """better-auth's signed session cookie. It authenticates reads; a write also needs a trusted
    Origin or Referer (UntrustedOrigin), since a browser sends the cookie on its own."""

    def authenticate_credential(self, request: Request) -> tuple[User, object] | None:
        cookie = session_cookie(request)
        if cookie is None:
            return None
        user, session = authenticate_cookie(cookie)
        if request.method not in SAFE_METHODS:
            enforce_trusted_origin(request)
        return user, session


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header. None without one (or with another scheme);
    InvalidToken when the header is malformed."""
    header = get_authorization_header(request).split()
    if not header or header[0].lower() != b"bearer":
        return None
    if len(header) != 2:
        raise InvalidToken("The Authorization header must be `Bearer <token>`.")
    try:
        return header[1].decode("ascii")
    except UnicodeDecodeError:
        raise InvalidToken("The bearer token contains invalid characters.") from None


def is_jwt(token: str) -> bool:
    """A three-part token is a JWT, and so is one that starts with a JWT's header (a JSON object,
    base64url-encoded) whatever follows it: a JWT cut short or with parts added is refused as a
    malformed JWT, not looked up as a session token. A session token has at most one dot (before
    its signature), after 32 letters and digits."""
    return token.count(".") == 2 or is_jose_header(token.partition(".")[0])


def is_jose_header(segment: str) -> bool:
    # A JSON object's base64url starts with "e" (from "{"): most session tokens stop there.
    if not segment.startswith("e"):
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):  # binascii.Error and the JSON and UTF-8 errors are ValueErrors
        return False
    return isinstance(header, dict)


# What a request that holds no credential its view accepts holds instead, as the 401 says it.
NOT_BEARER_SCHEME = (
    "The Authorization header must use the Bearer scheme: `Authorization: Bearer <token>`. "
    "Other schemes (Basic, Token...) and a token without a scheme are not credentials here."
)


def unaccepted_credential(request: Request) -> str | None:
    """What `request` holds in place of a credential its view accepts: an Authorization header of
    another scheme than Bearer, or the session cookie where the view takes bearer credentials only
    (/mcp). None when it holds neither."""
    authenticators = request.authenticators or ()
    if not any(isinstance(authenticator, BearerAuthentication) for authenticator in authenticators):
        return None
    header = get_authorization_header(request).split()
    if header and header[0].lower() != b"bearer":
        return NOT_BEARER_SCHEME
    cookies = any(isinstance(authenticator, SessionCookieAuthentication) for authenticator in authenticators)
    if not cookies and session_cookie(request) is not None:
        return (
            f"The session cookie is not accepted at {clip(request.path, 100)}: send a token in the "
            "Authorization header, `Authorization: Bearer <token>`."
        )
    return None


def signed_in_user(request: Request) -> User:
    """The better-auth user the classes above signed `request` in as, typed as such (the
    type checker takes `request.user` for the admin's user model). For views that require a
    signed-in user: anyone else is answered as not signed in."""
    user = request.user
    if isinstance(user, User):
        return user
    raise exceptions.NotAuthenticated()


# --- better-auth sessions ---------------------------------------------------


def session_cookie(request: Request) -> str | None:
    prefix = settings.BETTER_AUTH_COOKIE_PREFIX
    for name in (f"__Secure-{prefix}.{SESSION_COOKIE_NAME}", f"{prefix}.{SESSION_COOKIE_NAME}"):
        if value := request.COOKIES.get(name):
            return value
    return None


def authenticate_cookie(raw_value: str) -> tuple[User, Session]:
    # `unquote`, not `unquote_plus`: "+" is a base64 character of the signature.
    token = unsign_session_token(unquote(raw_value), settings.BETTER_AUTH_SECRET)
    if token is None:
        raise InvalidToken("The session cookie signature is invalid.")
    return load_session(token)


def authenticate_bearer_session(credential: str) -> tuple[User, Session]:
    value = unquote(credential)
    if "." in value:
        token = unsign_session_token(value, settings.BETTER_AUTH_SECRET)
        if token is None:
            raise InvalidToken("The session token signature is invalid.")
    elif settings.BETTER_AUTH_BEARER_REQUIRE_SIGNATURE:
        raise InvalidToken("The session token must be signed.")
    else:
        token = value
    return load_session(token)


def load_session(token: str) -> tuple[User, Session]:
    if not is_plain_token(token):  # e.g. a NUL, which PostgreSQL refuses with an error
        raise InvalidToken("The session token contains invalid characters.")
    user, session = remembered("session", token, lambda: read_session(token))
    if session.is_expired:
        raise SessionExpired()
    return user, session


def read_session(token: str) -> tuple[tuple[User, Session], float]:
    # Hand-written: this runs on every cookie request, and the ORM's compilation of it cost
    # more than the query itself (see ironclad/sql.py).
    rows = sql.fetch(SESSION_WITH_USER, [token], Session, User)
    if not rows:
        raise InvalidToken("The session does not exist or has been signed out.")
    session, user = rows[0]
    session.user = user
    return (user, session), session.expires_at.timestamp()


# --- Verified credentials, remembered -------------------------------------------


def remembered[T](kind: str, token: str, verify: Callable[[], tuple[T, float]]) -> T:
    """What `verify()` proves of `token`, remembered by this worker for CREDENTIAL_CACHE_SECONDS
    at most, and never past the credential's own expiry (the epoch seconds `verify` returns with
    it). A refused credential is not remembered: it raises every time.

    The cost: a signed-out session or a deleted user is still accepted, by each worker that
    remembers it, until its entry expires (docs/better-auth.md#revocation)."""
    seconds = settings.CREDENTIAL_CACHE_SECONDS
    if not seconds:
        return verify()[0]
    store = caches["credentials"]
    # A digest: the key is short and plain whatever the token holds, and the token is not kept.
    key = f"{kind}:{hashlib.blake2b(token.encode(), digest_size=20).hexdigest()}"
    found = store.get(key)
    if found is not None:
        return cast(T, found)
    proven, expires = verify()
    remaining = min(seconds, expires - time.time())
    if remaining > 0:
        store.set(key, proven, remaining)
    return proven


def enforce_trusted_origin(request: Request) -> None:
    """Refuse cookie-authenticated writes from origins we do not trust (CSRF defence)."""
    origin = request.headers.get("Origin")
    if origin == "null":
        # A sandboxed frame, a data: URL or a cross-origin redirect: no origin to trust, whatever
        # the Referer says (Django's CSRF check refuses it too).
        raise UntrustedOrigin("A cookie-authenticated write cannot come from the origin 'null'.")
    if not origin:
        referer = request.headers.get("Referer", "")
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    if not origin:
        raise UntrustedOrigin("A cookie-authenticated write needs an Origin or Referer header.")
    if not is_trusted_origin(request, origin):
        raise UntrustedOrigin(f"The origin {clip(origin, 100)!r} is not trusted.")


def is_trusted_origin(request: Request, origin: str) -> bool:
    """Whether `origin` is the front end's (TRUSTED_ORIGINS) or this server's own."""
    own_origin = f"{request.scheme}://{request.get_host()}"
    return origin.rstrip("/") in (*settings.TRUSTED_ORIGINS, own_origin)


# --- JWTs ------------------------------------------------------------------


def authenticate_jwt(token: str) -> tuple[User, dict[str, Any]]:
    return remembered("jwt", token, lambda: verify_jwt(token))


def verify_jwt(token: str) -> tuple[tuple[User, dict[str, Any]], float]:
    header = unverified_header(token)
    if is_access_token(header):
        raise InvalidToken("An OAuth access token is accepted only by the resource it names: /mcp.")
    claims = verified_claims(token, header, issuer=settings.JWT_ISSUER, audience=settings.JWT_AUDIENCE)
    rows = sql.fetch(USER_BY_ID, [token_user_id(claims)], User)
    if not rows:
        raise InvalidToken("The token's user does not exist.")
    return (rows[0][0], claims), claims["exp"]


def authenticate_access_token(token: str) -> tuple[User, dict[str, Any]]:
    """An OAuth access token for /mcp: signed with the jwt plugin's keys, from better-auth's
    issuer, for MCP_RESOURCE_URL; its user, its session (`sid`) and its client still there."""
    if not (settings.MCP_RESOURCE_URL and settings.OAUTH_ISSUER):
        raise InvalidToken(
            "This server accepts no OAuth access tokens: set MCP_RESOURCE_URL and BETTER_AUTH_URL."
        )
    header = unverified_header(token)
    if not is_jwks_algorithm(header.get("alg")):
        raise InvalidToken("An OAuth access token must be signed with the jwt plugin's keys.")
    claims = verified_claims(token, header, issuer=settings.OAUTH_ISSUER, audience=settings.MCP_RESOURCE_URL)
    if "cnf" in claims:
        # Bound to a key the client proves it holds with each request (DPoP, RFC 9449): Ironclad
        # checks no proofs, so it would take a stolen copy for a plain bearer.
        raise InvalidToken("A sender-constrained (DPoP) access token is not accepted here.")
    session_id, client_id = claims.get("sid"), claims.get("client_id") or claims.get("azp")
    for name, value in (("sid", session_id), ("client_id", client_id)):
        if value is not None and not (isinstance(value, str) and is_plain_token(value)):
            raise InvalidToken(f"The token's {name!r} claim must be a plain string.")
    if not client_id:
        raise InvalidToken("The token names no client.")
    if claims.get("sub") == client_id:
        # A client credentials token: the client acting for itself (better-auth's own test), no user.
        raise InvalidToken("The token acts for its client, not for a user.")
    rows = sql.fetch(ACCESS_TOKEN_HOLDER, [session_id, client_id, token_user_id(claims)], User, Session, 1)
    if not rows:
        raise InvalidToken("The token's user does not exist.")
    user, session, (client_usable,) = rows[0]
    if not client_usable:
        raise InvalidToken("The token's client is unknown or disabled.")
    if session_id is not None:
        if session.pk is None:
            raise InvalidToken("The token's session has been signed out.")
        if session.is_expired:
            raise SessionExpired()
    return user, claims


def unverified_header(token: str, *, strict: bool = True) -> dict[str, Any]:
    """The JWT's header, unverified; an InvalidToken that says what is wrong when the token is
    malformed ({} unless `strict`)."""
    parts = token.count(".") + 1
    try:
        if parts == 3:
            return jwt.get_unverified_header(token)
        # PyJWT would split a token of more parts at its first and last dots, and blame a part.
        defect = f"it has {parts} part{'s' * (parts > 1)}, where a JWT has 3 (header.payload.signature)"
    except jwt.InvalidTokenError as error:
        defect = clip(error, 100)
    if not strict:
        return {}
    raise InvalidToken(f"The token is not a well-formed JWT: {defect}.")


def is_jwks_algorithm(algorithm: object) -> TypeIs[str]:
    """Whether a JWT's `alg` is one of the jwt plugin's keys' (a header may hold any JSON there)."""
    return isinstance(algorithm, str) and algorithm in ASYMMETRIC_ALGORITHMS


def is_access_token(header: dict[str, Any]) -> bool:
    typ = header.get("typ")
    return isinstance(typ, str) and typ.lower() in ACCESS_TOKEN_TYPES


def verified_claims(token: str, header: dict[str, Any], *, issuer: str, audience: str) -> dict[str, Any]:
    """The claims of a JWT whose signature, `exp`, `iss` and `aud` hold."""
    algorithm = header.get("alg")
    if algorithm != "HS256" and not is_jwks_algorithm(algorithm):
        raise InvalidToken(f"The token algorithm {clip(algorithm, 20)!r} is not accepted.")
    if not token.rpartition(".")[2]:
        raise InvalidToken("The token is not a well-formed JWT: its signature (the third part) is empty.")
    if algorithm == "HS256":
        key = shared_secret_key(settings.JWT_SECRET)
    else:
        key = jwks_signing_key(header.get("kid"))

    options: Options = {"require": ["exp", "iss", "aud"]}
    try:
        claims = jwt.decode(
            token, key=key, algorithms=[algorithm], options=options, issuer=issuer, audience=audience
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("The token has expired.") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken(
            f"The token is not for this server: its audience must include {audience!r}."
        ) from None
    except jwt.InvalidIssuerError:
        raise InvalidToken(f"The token is not from the expected issuer {issuer!r}.") from None
    except jwt.InvalidTokenError as error:
        raise InvalidToken(f"The token is invalid: {clip(error, 100)}.") from None
    check_time_claims(claims)
    return claims


def token_user_id(claims: dict[str, Any]) -> str:
    user_id = claims.get("sub") or claims.get("userId") or claims.get("id")
    if not user_id:
        raise InvalidToken("The token names no user.")
    if not isinstance(user_id, str) or not is_plain_token(user_id):
        raise InvalidToken("The token's user id must be a plain string.")
    return user_id


def check_time_claims(claims: dict[str, Any]) -> None:
    """`exp`, `nbf` and `iat` must be NumericDates (RFC 7519 §2): numbers, not strings, within the
    years a datetime can hold. PyJWT reads them with int(), which takes "123" and 1e300."""
    for name in ("exp", "nbf", "iat"):
        if name not in claims:
            continue
        value = claims[name]
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not 0 <= value <= LATEST_NUMERIC_DATE:
            raise InvalidToken(f"The token's {name!r} claim must be a number of seconds since 1970.")


@functools.lru_cache(maxsize=4)
def shared_secret_key(secret: str) -> jwt.PyJWK:
    """The HS256 secret as a key prepared once: given the plain string, PyJWT re-checks it on
    every token (that it is not a PEM or SSH public key)."""
    encoded = base64.urlsafe_b64encode(secret.encode()).rstrip(b"=").decode()
    return jwt.PyJWK({"kty": "oct", "k": encoded, "alg": "HS256"})


def jwks_signing_key(kid: object) -> jwt.PyJWK:
    """The public key `kid` of better-auth's jwt plugin, from its JWKS URL or `jwks` table."""
    if not kid:
        raise InvalidToken("The token names no signing key (kid).")
    if not isinstance(kid, str) or not is_plain_token(kid):
        raise InvalidToken("The token's signing key id (kid) must be a plain string.")
    if settings.BETTER_AUTH_JWKS_URL:
        try:
            return jwks_client().get_signing_key(kid)
        except jwt.PyJWKClientConnectionError:
            # Our outage, not a bad token: a 401 would send clients into a sign-in loop.
            raise SigningKeysUnavailable() from None
        except jwt.PyJWKClientError as error:
            raise InvalidToken(f"The signing key is unknown: {clip(error, 100)}.") from None
    return jwks_table_key(kid)


def jwks_table_key(kid: str) -> jwt.PyJWK:
    cache_key = f"accounts:jwks:{kid}"
    public_jwk = cache.get(cache_key)
    if public_jwk is None:
        row = Jwks.objects.usable().filter(pk=kid).values("public_key", "alg", "crv").first()
        if row is None:
            raise InvalidToken("The signing key is unknown.")
        public_jwk = json.loads(row["public_key"])
        public_jwk.setdefault("kid", kid)
        public_jwk.setdefault("alg", row["alg"] or "EdDSA")
        if row["crv"]:
            public_jwk.setdefault("crv", row["crv"])
        cache.set(cache_key, public_jwk, settings.BETTER_AUTH_JWKS_CACHE_SECONDS)
    try:
        return jwt.PyJWK(public_jwk)
    except jwt.PyJWKError as error:
        raise InvalidToken(f"The signing key cannot be used: {clip(error, 100)}.") from None


_jwks_clients: dict[str, jwt.PyJWKClient] = {}


def jwks_client() -> jwt.PyJWKClient:
    url = settings.BETTER_AUTH_JWKS_URL
    if url not in _jwks_clients:
        _jwks_clients[url] = jwt.PyJWKClient(
            url,
            cache_keys=True,
            lifespan=settings.BETTER_AUTH_JWKS_CACHE_SECONDS,
            cooldown_duration=settings.BETTER_AUTH_JWKS_REFRESH_COOLDOWN,
            timeout=5,
        )
    return _jwks_clients[url]
