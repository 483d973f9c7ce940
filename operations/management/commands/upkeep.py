from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandParser

from idempotency import services as idempotency
from ironclad.commands import BaseCommand
from todos import changes
from webhooks import services as webhooks


class Command(BaseCommand):
    help = (
        "Delete what has expired: better-auth sessions and verification values (as purge_sessions), "
        "Idempotency-Key answers older than 24 hours, change-feed tombstones older than "
        "CHANGE_TOMBSTONE_DAYS, and webhook history older than WEBHOOK_HISTORY_DAYS (finished "
        "deliveries, events no delivery is left of, finished background tasks' results). Live rows "
        "are kept. Safe to run at any time, e.g. daily from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        call_command("purge_sessions", dry_run=dry_run, stdout=self.stdout)
        days = settings.CHANGE_TOMBSTONE_DAYS
        history_days = settings.WEBHOOK_HISTORY_DAYS
        if dry_run:
            self.stdout.write(
                f"Would delete {idempotency.expired().count()} expired idempotency keys "
                f"and {changes.old_tombstones().count()} tombstones older than {days} days."
            )
            history = webhooks.history_to_purge()
            self.stdout.write(
                f"Would delete {history.deliveries} webhook deliveries, {history.events} webhook events "
                f"and {history.task_results} task results older than {history_days} days."
            )
            return
        keys, _ = idempotency.expired().delete()
        tombstones = changes.purge_tombstones()
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {keys} expired idempotency keys and {tombstones} tombstones older than {days} days."
            )
        )
        history = webhooks.purge_history()
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {history.deliveries} webhook deliveries, {history.events} webhook events "
                f"and {history.task_results} task results older than {history_days} days."
            )
        )
