"""The base of the project's management commands: output that its reader may stop reading."""

import os
from io import TextIOBase
from typing import Any, TextIO

from django.core.management import base


class BaseCommand(base.BaseCommand):
    """Django's BaseCommand, for a command whose reader may go before it is done
    (`manage.py seed | head -3`). What it writes from then on is dropped, and the command does all
    its work and exits as it would have: no BrokenPipeError traceback, and no work left half done
    (or rolled back) at whichever line the reader stopped."""

    def execute(self, *args: Any, **options: Any) -> Any:
        stdout = options["stdout"] = ReaderMayLeave(options.get("stdout") or self.stdout)
        try:
            return super().execute(*args, **options)
        finally:
            # Buffered output meets the closed pipe when it is flushed: here, rather than at exit.
            stdout.flush()


class ReaderMayLeave:
    """A text stream that drops what is written once its reader has closed the pipe (EPIPE)."""

    def __init__(self, stream: TextIO | TextIOBase) -> None:
        self.stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                self.stream.write(text)
            except BrokenPipeError:
                self.drop_the_rest()
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self.drop_the_rest()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def drop_the_rest(self) -> None:
        self.reader_gone = True
        try:
            descriptor = self.stream.fileno()
        except (AttributeError, OSError, ValueError):  # not a file: nothing is flushed at exit
            return
        # What is still buffered would be flushed at exit, and fail again ("Exception ignored ...
        # BrokenPipeError", exit status 120): it goes nowhere instead (the Python documentation's
        # advice on SIGPIPE).
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, descriptor)
        os.close(null)
