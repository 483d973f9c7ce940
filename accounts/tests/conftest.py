"""The task and category fixtures of todos, here too (the quotas count them)."""

from todos.tests.conftest import make_category, make_task  # noqa: F401
