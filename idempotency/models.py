"""The answers kept for requests sent with an Idempotency-Key (table: docs/database.md)."""

from django.db import models

from accounts.models import User

KEY_MAX_LENGTH = 255


class IdempotentRequest(models.Model):
    """A request sent with an Idempotency-Key: while it runs, `status` is NULL; then its answer
    (status, the headers a replay repeats, body) is kept, and a repeat gets that answer again."""

    user = models.ForeignKey(
        User,
        on_delete=models.DB_CASCADE,
        db_column="userId",
        related_name="+",
        # The unique (userId, key) index below leads with userId.
        db_index=False,
    )
    key = models.TextField()
    # What the key was first sent with (method, route, body), as a digest: a repeat must match it.
    fingerprint = models.TextField()
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(default=b"", blank=True)
    # An answer too large to keep whole, which its view can read again (the chat's, from the
    # message that records it): what to read, and `body` empty.
    reference = models.JSONField(null=True, blank=True)
    # The bytes it counts against the user's IDEMPOTENCY_USER_MAX_BYTES: the largest answer while
    # it runs, then what it keeps (idempotency.services).
    size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(db_column="createdAt")

    class Meta:
        db_table = "idempotency_key"
        constraints = [models.UniqueConstraint("user", "key", name="idempotency_key_user_key_uniq")]
        indexes = [
            models.Index(fields=["created_at"], name="idempotency_key_created"),
            # A user's bytes kept now, read from the index alone.
            models.Index(fields=["user", "created_at", "size"], name="idempotency_key_user_size"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status or 'running'})"
