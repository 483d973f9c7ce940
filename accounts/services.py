"""Writes to better-auth's tables made by Ironclad itself (demo data, operator commands)."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Session, User, generate_id
from accounts.passwords import hash_password

# better-auth's default `session.expiresIn`.
SESSION_LIFETIME = timedelta(days=7)
CREDENTIAL_PROVIDER = "credential"


@transaction.atomic
def user_create_with_password(*, name: str, email: str, password: str, email_verified: bool = True) -> User:
    """A user who can sign in through better-auth with email and password.

    better-auth finds the password on the user's "credential" account whose
    `accountId` is the user's own id, as its email sign-up creates it.
    """
    user = User.objects.create(name=name, email=email.lower(), email_verified=email_verified)
    Account.objects.create(
        user=user, account_id=user.id, provider_id=CREDENTIAL_PROVIDER, password=hash_password(password)
    )
    return user


def session_create(
    *, user: User, lifetime: timedelta = SESSION_LIFETIME, user_agent: str | None = None
) -> Session:
    """A better-auth session row: its token, signed, is the session cookie."""
    return Session.objects.create(
        user=user, token=generate_id(), expires_at=timezone.now() + lifetime, user_agent=user_agent
    )
