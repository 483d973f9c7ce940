from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """The commands that span the apps: `seed` (demo users with tasks and a conversation) and
    `upkeep` (deletes what has expired). Nothing else depends on this app."""

    name = "operations"
    verbose_name = "Operations"
