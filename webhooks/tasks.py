"""The worker's tasks (Django's tasks framework; `manage.py worker` runs them)."""

from django.tasks import task

from webhooks import delivery


@task()
def send_webhook_deliveries(webhook_id: int, claim: str) -> int:
    """Send the webhook's pending deliveries while `claim` is its claim (webhooks.scheduler)."""
    return delivery.send_pending(webhook_id, claim)
