"""better-auth's tables, mapped column for column (docs/database.md).

better-auth (Node) writes these rows; Ironclad reads them to authenticate and
owns their migrations. Names are a contract: every table and column is spelled
out, and foreign keys to `user` cascade in the database because better-auth
deletes users with plain SQL.
"""

import secrets
import string
from typing import Any, Self

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

_ID_ALPHABET = string.ascii_letters + string.digits


def generate_id() -> str:
    """A better-auth style id: 32 random characters of [A-Za-z0-9]."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(32))


class User(models.Model):
    """A person signed up through better-auth (not Django's operator account)."""

    id = models.TextField(primary_key=True, default=generate_id)
    name = models.TextField()
    email = models.TextField()
    email_verified = models.BooleanField(db_column="emailVerified", default=False)
    image = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(db_column="createdAt", default=timezone.now, db_default=Now())
    updated_at = models.DateTimeField(db_column="updatedAt", default=timezone.now, db_default=Now())

    class Meta:
        db_table = "user"
        # Apart from Django's own users, whom the admin calls operators (accounts/apps.py).
        verbose_name = "app user"
        ordering = ["-created_at"]
        # Constraint and index names are better-auth's own (a plain `unique=True`
        # would also add a second, text_pattern_ops index on PostgreSQL).
        constraints = [models.UniqueConstraint(fields=["email"], name="user_email_key")]

    # DRF's permission classes ask these of request.user.
    is_authenticated = True
    is_anonymous = False

    def __str__(self) -> str:
        return self.email


class OwnedQuerySet[M: models.Model](models.QuerySet[M]):
    """Rows owned by one better-auth user (a `user` foreign key): the scope every view of the
    user's data starts from, so another user's row is a 404 by construction."""

    def for_user(self, user: "User") -> Self:
        return self.filter(user=user)


class SessionQuerySet(models.QuerySet["Session"]):
    def active(self) -> "SessionQuerySet":
        return self.filter(expires_at__gt=timezone.now())

    def expired(self) -> "SessionQuerySet":
        return self.filter(expires_at__lte=timezone.now())


class Session(models.Model):
    """A better-auth session; its `token` is what the session cookie carries, signed."""

    id = models.TextField(primary_key=True, default=generate_id)
    expires_at = models.DateTimeField(db_column="expiresAt")
    token = models.TextField()
    created_at = models.DateTimeField(db_column="createdAt", default=timezone.now, db_default=Now())
    updated_at = models.DateTimeField(db_column="updatedAt", default=timezone.now)
    ip_address = models.TextField(db_column="ipAddress", null=True, blank=True)
    user_agent = models.TextField(db_column="userAgent", null=True, blank=True)
    user = models.ForeignKey(
        User,
        on_delete=models.DB_CASCADE,
        db_column="userId",
        db_index=False,
        related_name="sessions",
    )

    objects = SessionQuerySet.as_manager()

    class Meta:
        db_table = "session"
        constraints = [models.UniqueConstraint(fields=["token"], name="session_token_key")]
        indexes = [models.Index(fields=["user"], name="session_userId_idx")]

    def __str__(self) -> str:
        return f"session {self.id} of {self.user_id}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class Account(models.Model):
    """A sign-in method of a user: a password ("credential") or an OAuth provider."""

    id = models.TextField(primary_key=True, default=generate_id)
    account_id = models.TextField(db_column="accountId")
    provider_id = models.TextField(db_column="providerId")
    user = models.ForeignKey(
        User,
        on_delete=models.DB_CASCADE,
        db_column="userId",
        db_index=False,
        related_name="accounts",
    )
    access_token = models.TextField(db_column="accessToken", null=True, blank=True)
    refresh_token = models.TextField(db_column="refreshToken", null=True, blank=True)
    id_token = models.TextField(db_column="idToken", null=True, blank=True)
    access_token_expires_at = models.DateTimeField(db_column="accessTokenExpiresAt", null=True, blank=True)
    refresh_token_expires_at = models.DateTimeField(db_column="refreshTokenExpiresAt", null=True, blank=True)
    scope = models.TextField(null=True, blank=True)
    password = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(db_column="createdAt", default=timezone.now, db_default=Now())
    updated_at = models.DateTimeField(db_column="updatedAt", default=timezone.now)

    class Meta:
        db_table = "account"
        indexes = [models.Index(fields=["user"], name="account_userId_idx")]

    def __str__(self) -> str:
        return f"{self.provider_id} account of {self.user_id}"


class VerificationQuerySet(models.QuerySet["Verification"]):
    def expired(self) -> "VerificationQuerySet":
        return self.filter(expires_at__lte=timezone.now())


class Verification(models.Model):
    """A pending verification value (email verification, password reset)."""

    id = models.TextField(primary_key=True, default=generate_id)
    identifier = models.TextField()
    value = models.TextField()
    expires_at = models.DateTimeField(db_column="expiresAt")
    created_at = models.DateTimeField(db_column="createdAt", default=timezone.now, db_default=Now())
    updated_at = models.DateTimeField(db_column="updatedAt", default=timezone.now, db_default=Now())

    objects = VerificationQuerySet.as_manager()

    class Meta:
        db_table = "verification"
        indexes = [models.Index(fields=["identifier"], name="verification_identifier_idx")]

    def __str__(self) -> str:
        return self.identifier


class JwksQuerySet(models.QuerySet["Jwks"]):
    def usable(self) -> "JwksQuerySet":
        """Keys that may still verify tokens: no expiry, or not yet expired."""
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now()))


class Jwks(models.Model):
    """A key pair of better-auth's jwt plugin; `public_key` is the public JWK as JSON text."""

    id = models.TextField(primary_key=True, default=generate_id)
    public_key = models.TextField(db_column="publicKey")
    # Encrypted by better-auth; Ironclad never reads it.
    private_key = models.TextField(db_column="privateKey")
    created_at = models.DateTimeField(db_column="createdAt", default=timezone.now)
    expires_at = models.DateTimeField(db_column="expiresAt", null=True, blank=True)
    alg = models.TextField(null=True, blank=True)
    crv = models.TextField(null=True, blank=True)

    objects = JwksQuerySet.as_manager()

    class Meta:
        db_table = "jwks"
        verbose_name = "JWKS key"
        verbose_name_plural = "JWKS keys"

    def __str__(self) -> str:
        return f"{self.alg or 'EdDSA'} key {self.id}"


# --- The oauth-provider plugin's tables -------------------------------------
# @better-auth/oauth-provider makes better-auth an OAuth 2.1 authorization server: MCP clients
# register here and get access tokens for /mcp (docs/mcp.md). Ironclad reads only `oauthClient`
# (is the client disabled?); the plugin writes them all. Every constraint and index carries
# better-auth's name; foreign keys act in the database, as better-auth's do.


class BetterAuthIndex(models.Index):
    """An index under better-auth's name, which may be longer than the 30 characters Django's
    check allows for Oracle's sake (PostgreSQL takes 63; Ironclad runs on PostgreSQL and SQLite).
    Migrations name this class by its path: keep it here, under this name."""

    max_name_length = 63


def user_link(*, null: bool, related_name: str = "+") -> "models.ForeignKey[Any, Any]":
    """The `"userId"` column, NULL-able in some tables: typed loosely for that reason."""
    return models.ForeignKey(
        User,
        on_delete=models.DB_CASCADE,
        db_column="userId",
        db_index=False,
        null=null,
        blank=null,
        related_name=related_name,
    )


class OAuthClient(models.Model):
    """An application registered with better-auth's OAuth provider (an MCP client, say)."""

    id = models.TextField(primary_key=True, default=generate_id)
    client_id = models.TextField(db_column="clientId")
    client_secret = models.TextField(db_column="clientSecret", null=True, blank=True)
    client_discovery_id = models.TextField(db_column="clientDiscoveryId", null=True, blank=True)
    disabled = models.BooleanField(null=True, blank=True)
    skip_consent = models.BooleanField(db_column="skipConsent", null=True, blank=True)
    enable_end_session = models.BooleanField(db_column="enableEndSession", null=True, blank=True)
    subject_type = models.TextField(db_column="subjectType", null=True, blank=True)
    scopes = models.JSONField(null=True, blank=True)
    client_credentials_scopes = models.JSONField(db_column="clientCredentialsScopes", null=True, blank=True)
    user = user_link(null=True, related_name="oauth_clients")
    created_at = models.DateTimeField(db_column="createdAt", null=True, blank=True, default=timezone.now)
    updated_at = models.DateTimeField(db_column="updatedAt", null=True, blank=True, default=timezone.now)
    name = models.TextField(null=True, blank=True)
    uri = models.TextField(null=True, blank=True)
    icon = models.TextField(null=True, blank=True)
    contacts = models.JSONField(null=True, blank=True)
    tos = models.TextField(null=True, blank=True)
    policy = models.TextField(null=True, blank=True)
    software_id = models.TextField(db_column="softwareId", null=True, blank=True)
    software_version = models.TextField(db_column="softwareVersion", null=True, blank=True)
    software_statement = models.TextField(db_column="softwareStatement", null=True, blank=True)
    redirect_uris = models.JSONField(db_column="redirectUris")
    post_logout_redirect_uris = models.JSONField(db_column="postLogoutRedirectUris", null=True, blank=True)
    backchannel_logout_uri = models.TextField(db_column="backchannelLogoutUri", null=True, blank=True)
    backchannel_logout_session_required = models.BooleanField(
        db_column="backchannelLogoutSessionRequired", null=True, blank=True
    )
    token_endpoint_auth_method = models.TextField(db_column="tokenEndpointAuthMethod", null=True, blank=True)
    application_type = models.TextField(db_column="applicationType", null=True, blank=True)
    jwks = models.TextField(null=True, blank=True)
    jwks_uri = models.TextField(db_column="jwksUri", null=True, blank=True)
    grant_types = models.JSONField(db_column="grantTypes", null=True, blank=True)
    response_types = models.JSONField(db_column="responseTypes", null=True, blank=True)
    require_pkce = models.BooleanField(db_column="requirePKCE", null=True, blank=True)
    dpop_bound_access_tokens = models.BooleanField(db_column="dpopBoundAccessTokens", null=True, blank=True)
    reference_id = models.TextField(db_column="referenceId", null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "oauthClient"
        verbose_name = "OAuth client"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["client_id"], name="oauthClient_clientId_key")]
        indexes = [BetterAuthIndex(fields=["user"], name="oauthClient_userId_idx")]

    def __str__(self) -> str:
        return self.name or self.client_id


class OAuthResource(models.Model):
    """A protected resource the provider issues tokens for (Ironclad's /mcp), by its URL."""

    id = models.TextField(primary_key=True, default=generate_id)
    identifier = models.TextField()
    name = models.TextField()
    access_token_ttl = models.IntegerField(db_column="accessTokenTtl", null=True, blank=True)
    refresh_token_ttl = models.IntegerField(db_column="refreshTokenTtl", null=True, blank=True)
    signing_algorithm = models.TextField(db_column="signingAlgorithm", null=True, blank=True)
    signing_key_id = models.TextField(db_column="signingKeyId", null=True, blank=True)
    allowed_scopes = models.JSONField(db_column="allowedScopes", null=True, blank=True)
    custom_claims = models.JSONField(db_column="customClaims", null=True, blank=True)
    dpop_bound_access_tokens_required = models.BooleanField(
        db_column="dpopBoundAccessTokensRequired", null=True, blank=True
    )
    disabled = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(db_column="createdAt", null=True, blank=True, default=timezone.now)
    updated_at = models.DateTimeField(db_column="updatedAt", null=True, blank=True, default=timezone.now)
    policy_version = models.IntegerField(db_column="policyVersion", null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "oauthResource"
        verbose_name = "OAuth resource"
        constraints = [models.UniqueConstraint(fields=["identifier"], name="oauthResource_identifier_key")]

    def __str__(self) -> str:
        return self.identifier


def client_link() -> "models.ForeignKey[OAuthClient, OAuthClient]":
    """The `"clientId"` column of the tables below: a client's tokens and grants go with it."""
    return models.ForeignKey(
        OAuthClient,
        to_field="client_id",
        on_delete=models.DB_CASCADE,
        db_column="clientId",
        db_index=False,
        related_name="+",
    )


def session_link() -> "models.ForeignKey[Session | None, Session | None]":
    """The `"sessionId"` column: a token outlives its session's row, which better-auth deletes at
    sign-out; Ironclad refuses the token then (accounts/authentication.py)."""
    return models.ForeignKey(
        Session,
        on_delete=models.DB_SET_NULL,
        db_column="sessionId",
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )


class OAuthClientResource(models.Model):
    """Which resources a client may ask tokens for."""

    id = models.TextField(primary_key=True, default=generate_id)
    client = client_link()
    resource = models.ForeignKey(
        OAuthResource,
        to_field="identifier",
        on_delete=models.DB_CASCADE,
        db_column="resourceId",
        db_index=False,
        related_name="+",
    )
    metadata = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(db_column="createdAt", null=True, blank=True, default=timezone.now)

    class Meta:
        db_table = "oauthClientResource"
        verbose_name = "OAuth client resource"
        constraints = [
            models.UniqueConstraint(
                fields=["client", "resource"], name="oauthClientResource_clientId_resourceId_uidx"
            )
        ]
        indexes = [
            BetterAuthIndex(fields=["client"], name="oauthClientResource_clientId_idx"),
            BetterAuthIndex(fields=["resource"], name="oauthClientResource_resourceId_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} may use {self.resource_id}"


class OAuthRefreshToken(models.Model):
    """A refresh token (stored hashed), with what its access tokens are bound to."""

    id = models.TextField(primary_key=True, default=generate_id)
    token = models.TextField()
    client = client_link()
    session = session_link()
    user = user_link(null=False)
    reference_id = models.TextField(db_column="referenceId", null=True, blank=True)
    authorization_code_id = models.TextField(db_column="authorizationCodeId", null=True, blank=True)
    resources = models.JSONField(null=True, blank=True)
    requested_user_info_claims = models.JSONField(db_column="requestedUserInfoClaims", null=True, blank=True)
    expires_at = models.DateTimeField(db_column="expiresAt")
    created_at = models.DateTimeField(db_column="createdAt", default=timezone.now)
    revoked = models.DateTimeField(null=True, blank=True)
    rotated_at = models.DateTimeField(db_column="rotatedAt", null=True, blank=True)
    rotation_replay_response = models.TextField(db_column="rotationReplayResponse", null=True, blank=True)
    rotation_replay_expires_at = models.DateTimeField(
        db_column="rotationReplayExpiresAt", null=True, blank=True
    )
    auth_time = models.DateTimeField(db_column="authTime", null=True, blank=True)
    confirmation = models.JSONField(null=True, blank=True)
    scopes = models.JSONField()

    class Meta:
        db_table = "oauthRefreshToken"
        verbose_name = "OAuth refresh token"
        constraints = [models.UniqueConstraint(fields=["token"], name="oauthRefreshToken_token_key")]
        indexes = [
            BetterAuthIndex(
                fields=["authorization_code_id"], name="oauthRefreshToken_authorizationCodeId_idx"
            ),
            BetterAuthIndex(fields=["client"], name="oauthRefreshToken_clientId_idx"),
            BetterAuthIndex(fields=["session"], name="oauthRefreshToken_sessionId_idx"),
            BetterAuthIndex(fields=["user"], name="oauthRefreshToken_userId_idx"),
        ]

    def __str__(self) -> str:
        return f"refresh token {self.id} of {self.client_id}"


class OAuthAccessToken(models.Model):
    """An opaque access token (stored hashed). JWT access tokens, the ones /mcp accepts, are not
    stored."""

    id = models.TextField(primary_key=True, default=generate_id)
    token = models.TextField()
    client = client_link()
    session = session_link()
    user = user_link(null=True)
    reference_id = models.TextField(db_column="referenceId", null=True, blank=True)
    authorization_code_id = models.TextField(db_column="authorizationCodeId", null=True, blank=True)
    resources = models.JSONField(null=True, blank=True)
    requested_user_info_claims = models.JSONField(db_column="requestedUserInfoClaims", null=True, blank=True)
    refresh = models.ForeignKey(
        OAuthRefreshToken,
        on_delete=models.DB_CASCADE,
        db_column="refreshId",
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    expires_at = models.DateTimeField(db_column="expiresAt")
    created_at = models.DateTimeField(db_column="createdAt", default=timezone.now)
    revoked = models.DateTimeField(null=True, blank=True)
    confirmation = models.JSONField(null=True, blank=True)
    scopes = models.JSONField()

    class Meta:
        db_table = "oauthAccessToken"
        verbose_name = "OAuth access token"
        constraints = [models.UniqueConstraint(fields=["token"], name="oauthAccessToken_token_key")]
        indexes = [
            BetterAuthIndex(
                fields=["authorization_code_id"], name="oauthAccessToken_authorizationCodeId_idx"
            ),
            BetterAuthIndex(fields=["client"], name="oauthAccessToken_clientId_idx"),
            BetterAuthIndex(fields=["refresh"], name="oauthAccessToken_refreshId_idx"),
            BetterAuthIndex(fields=["session"], name="oauthAccessToken_sessionId_idx"),
            BetterAuthIndex(fields=["user"], name="oauthAccessToken_userId_idx"),
        ]

    def __str__(self) -> str:
        return f"access token {self.id} of {self.client_id}"


class OAuthConsent(models.Model):
    """A user's consent to a client's scopes and resources."""

    id = models.TextField(primary_key=True, default=generate_id)
    client = client_link()
    user = user_link(null=True)
    reference_id = models.TextField(db_column="referenceId", null=True, blank=True)
    resources = models.JSONField(null=True, blank=True)
    requested_user_info_claims = models.JSONField(db_column="requestedUserInfoClaims", null=True, blank=True)
    scopes = models.JSONField()
    created_at = models.DateTimeField(db_column="createdAt", default=timezone.now)
    updated_at = models.DateTimeField(db_column="updatedAt", default=timezone.now)

    class Meta:
        db_table = "oauthConsent"
        verbose_name = "OAuth consent"
        indexes = [
            BetterAuthIndex(fields=["client"], name="oauthConsent_clientId_idx"),
            BetterAuthIndex(fields=["user"], name="oauthConsent_userId_idx"),
        ]

    def __str__(self) -> str:
        return f"consent of {self.user_id} to {self.client_id}"


class OAuthClientAssertion(models.Model):
    """A used client assertion's id (`jti`), remembered until it expires so it is used once."""

    id = models.TextField(primary_key=True)
    expires_at = models.DateTimeField(db_column="expiresAt")

    class Meta:
        db_table = "oauthClientAssertion"
        verbose_name = "OAuth client assertion"

    def __str__(self) -> str:
        return self.id
