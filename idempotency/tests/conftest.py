"""The chat's fake language model, here too."""

from chat.tests.conftest import fake_llm  # noqa: F401
