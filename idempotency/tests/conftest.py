"""The task fixtures of todos, here too."""

from todos.tests.conftest import make_task  # noqa: F401
