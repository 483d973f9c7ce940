"""CHAT_PROVIDER picks the assistant; the default needs nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chat.assistant import get_assistant
from chat.offline import OfflineAssistant
from chat.openai_provider import OpenAIAssistant

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_is_offline():
    assert isinstance(get_assistant(), OfflineAssistant)


def test_openai_is_configured_from_the_settings(settings):
    settings.CHAT_PROVIDER = "openai"
    settings.CHAT_OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    settings.CHAT_OPENAI_MODEL = "a-model"
    settings.CHAT_OPENAI_TIMEOUT = 12.5
    settings.CHAT_MAX_TOOL_ROUNDS = 4

    assistant = get_assistant()

    assert isinstance(assistant, OpenAIAssistant)
    assert (assistant.model, assistant.timeout, assistant.max_rounds) == ("a-model", 12.5, 4)
    assert str(assistant.client.base_url) == "http://127.0.0.1:9/v1/"


@pytest.mark.live
def test_an_unknown_provider_stops_start_up():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "true", "CHAT_PROVIDER": "clippy"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "CHAT_PROVIDER must be 'offline' or 'openai', not 'clippy'." in result.stderr
