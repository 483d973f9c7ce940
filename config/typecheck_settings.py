"""The settings mypy's Django plugin loads (pyproject.toml, [tool.django-stubs]); nothing else does.

They are config.settings, read without a .env and with DEBUG on and placeholder secrets: with
DEBUG off the settings refuse to load without real secrets, and a type check must need none.
"""

import os

os.environ["ENV_FILE"] = os.devnull
os.environ["DEBUG"] = "true"
for _name in ("SECRET_KEY", "BETTER_AUTH_SECRET"):
    os.environ[_name] = "type-checking-only-not-a-secret"

from config.settings import *  # noqa: E402, F403
