"""The deployed settings, with no middleware and only the minimal task list (bench/limit.py)."""

from config.settings import *  # noqa: F403

MIDDLEWARE = []
ROOT_URLCONF = "bench.limit"
# The admin is installed but not routed here: it would ask for its middleware.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410"]
