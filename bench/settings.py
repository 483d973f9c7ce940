"""The deployed settings plus one bare Django view, so both are measured by one server in one run."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
