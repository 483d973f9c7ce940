import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django_tasks_db.management.commands.db_worker import Worker

from ironclad.commands import BaseCommand
from webhooks import delivery
from webhooks.scheduler import Scheduler, hand_over_due_webhooks

logger = logging.getLogger("ironclad.worker")


class Command(BaseCommand):
    help = (
        "Run the worker: it sends webhook deliveries and reminders. It runs the tasks of Django's "
        "tasks framework kept in the database (django-tasks-db), on WORKER_THREADS threads, and looks "
        "for due work every WORKER_POLL_SECONDS. Several may run at once, on one machine or many. "
        "SIGTERM or Ctrl+C stops it once the deliveries being sent are done; a second one at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--threads", type=int, default=settings.WORKER_THREADS, help="Tasks run at once (WORKER_THREADS)."
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="Do what is due now (reminders, deliveries), in this thread, then exit: for a host "
            "that runs commands from cron rather than a worker that stays up.",
        )

    def handle(self, *args: Any, threads: int, once: bool, **options: Any) -> None:
        if threads < 1:
            raise CommandError("--threads must be at least 1.")
        poll = settings.WORKER_POLL_SECONDS
        stopping = threading.Event()
        name = f"{socket.gethostname()}-{os.getpid()}"
        scheduler = Scheduler(poll, stopping)
        if once:
            scheduler.look()
            # Until nothing is left to hand over: a user's webhooks are handed over one at a time.
            while True:
                _runner(f"{name}-once", poll, batch=True).run()
                if not hand_over_due_webhooks():
                    return
        runners = [_runner(f"{name}-{number}", poll) for number in range(threads)]
        running = [
            threading.Thread(target=_kept_running, args=(runner.run, stopping, poll), name=f"worker-{number}")
            for number, runner in enumerate(runners)
        ]
        running.append(
            threading.Thread(target=_kept_running, args=(scheduler.run, stopping, poll), name="scheduler")
        )

        def stop(signum: int, frame: FrameType | None) -> None:
            if stopping.is_set():
                logger.warning("Stopping now, in the middle of what it was sending.")
                os._exit(1)
            logger.info("Stopping once the deliveries being sent are done (again to stop now).")
            stopping.set()
            delivery.stopping.set()
            for runner in runners:
                runner.running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        for thread in running:
            thread.start()
        logger.info("Worker %s started: %d threads, looking for work every %g s.", name, threads, poll)
        self.stdout.write(f"Worker {name} started: {threads} threads.")
        stopping.wait()
        for thread in running:
            thread.join()
        logger.info("Worker %s stopped.", name)


def _runner(worker_id: str, poll: float, *, batch: bool = False) -> Worker:
    """A django-tasks-db worker loop, for one thread: it runs the tasks of every queue."""
    return Worker(
        queue_names=["*"],
        excluded_queue_names=[],
        interval=poll,
        batch=batch,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id[-64:],
    )


def _kept_running(run: Callable[[], None], stopping: threading.Event, poll: float) -> None:
    """Run `run` until `stopping` is set, again after it fails (the database was away, say)."""
    try:
        while not stopping.is_set():
            try:
                run()
            except Exception:
                logger.exception("A worker thread failed; it starts again.")
                stopping.wait(poll)
    finally:
        connection.close()
