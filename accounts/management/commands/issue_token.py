import re
from datetime import timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db.models import Q

from accounts.models import User
from accounts.tokens import DEFAULT_JWT_LIFETIME, mint_jwt
from ironclad.commands import BaseCommand

_LIFETIME = re.compile(r"(\d+)\s*([smhdw]?)", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_lifetime(value: str) -> timedelta:
    """`90` (minutes), `90m`, `12h`, `7d`, `2w` or `30s` as a positive timedelta."""
    match = _LIFETIME.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a lifetime: use minutes (90) or a number with s, m, h, d or w")
    amount, unit = match.groups()
    try:
        lifetime = timedelta(**{_UNITS[unit.lower()]: int(amount)})
    except OverflowError:
        raise ValueError(f"{value!r} is too long a lifetime") from None
    if lifetime <= timedelta(0):
        raise ValueError("the lifetime must be positive")
    return lifetime


class Command(BaseCommand):
    help = (
        "Print an HS256 JWT (signed with JWT_SECRET) for a better-auth user, given by email or id. "
        "Only the token is printed: TOKEN=$(python manage.py issue_token alice@example.com)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="The user's email address or id.")
        parser.add_argument(
            "--lifetime",
            default=None,
            help="How long the token is valid: minutes (90) or 30s, 15m, 12h, 7d, 2w. Default: 1d.",
        )

    def handle(self, *args: Any, user: str, lifetime: str | None, **options: Any) -> None:
        try:
            valid_for = DEFAULT_JWT_LIFETIME if lifetime is None else parse_lifetime(lifetime)
        except ValueError as error:
            raise CommandError(f"--lifetime: {error}.") from None
        self.stdout.write(mint_jwt(find_user(user), valid_for))


def find_user(identifier: str) -> User:
    identifier = identifier.strip()
    matches = list(User.objects.filter(Q(pk=identifier) | Q(email__iexact=identifier))[:2])
    if not matches:
        raise CommandError(f"No user has the email address or id {identifier!r}.")
    if len(matches) > 1:
        raise CommandError(f"{identifier!r} names more than one user; give the user's id.")
    return matches[0]
