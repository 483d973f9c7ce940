"""better-auth's tables, mapped column for column (docs/database.md).

better-auth (Node) writes these rows; Ironclad reads them to authenticate and
owns their migrations. Names are a contract: every table and column is spelled
out, and foreign keys to `user` cascade in the database because better-auth
deletes users with plain SQL.
"""

import secrets
import string
from typing import Self

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
