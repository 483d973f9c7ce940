"""The task fixtures of todos, and the chat's fake language model, here too."""

from chat.tests.conftest import fake_llm  # noqa: F401
from todos.tests.conftest import make_task  # noqa: F401
