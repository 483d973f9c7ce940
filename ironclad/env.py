"""The environment, read one way by the settings and by the server launchers.

A variable that is set to nothing (`WEB_CONCURRENCY=` in a copied `.env.example`, or passed by
`docker run --env-file .env`) counts as unset, so its default applies: for every variable, in
every process. A `.env` file in the project folder is read too (ENV_FILE names another one;
ENV_FILE=/dev/null reads none, as the tests do); a variable set in the real environment wins
over it, unless it is blank.
"""

import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path

import environ

PROJECT_DIR = Path(__file__).resolve().parent.parent


class _SetVariables(MutableMapping[str, str]):
    """os.environ without the variables whose value is empty or blank."""

    def __getitem__(self, name: str) -> str:
        value = os.environ[name]
        if not value.strip():
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: str) -> None:
        os.environ[name] = value

    def __delitem__(self, name: str) -> None:
        del os.environ[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name, value in os.environ.items() if value.strip())

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Env(environ.Env):
    # read_env() fills a blank variable from .env too: blank and unset are the same thing.
    ENVIRON = _SetVariables()


env = Env()
Env.read_env(os.environ.get("ENV_FILE") or PROJECT_DIR / ".env")
