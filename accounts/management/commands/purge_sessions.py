from typing import Any

from django.core.management.base import CommandParser
from django.db import transaction

from accounts.models import Session, Verification
from ironclad.commands import BaseCommand


class Command(BaseCommand):
    help = (
        "Delete expired better-auth sessions and expired verification values (email verification, "
        "password reset). Live rows are kept. Safe to run at any time, e.g. daily from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        sessions = Session.objects.expired()
        verifications = Verification.objects.expired()
        if dry_run:
            self.stdout.write(
                f"Would delete {sessions.count()} expired sessions "
                f"and {verifications.count()} expired verification values."
            )
            return
        with transaction.atomic():
            deleted_sessions, _ = sessions.delete()
            deleted_verifications, _ = verifications.delete()
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {deleted_sessions} expired sessions "
                f"and {deleted_verifications} expired verification values."
            )
        )
