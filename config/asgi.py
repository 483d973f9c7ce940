"""ASGI entry point, for uvicorn (SERVER=uvicorn in config/serve.py). The API is synchronous.

Under ASGI Django runs each request's synchronous code in a thread of its own, so a persistent
connection per thread is a new PostgreSQL connection per request that is never reused: under load
PostgreSQL soon refuses more ("too many clients"). Django's advice is to use a pool under ASGI, so
psycopg's pool is switched on here: at most DATABASE_POOL_MAX_SIZE connections per process.
"""

import os

from django.core.asgi import get_asgi_application

from ironclad.logs import warn_if_static_files_are_not_collected
from ironclad.metrics import count_this_worker
from ironclad.tracing import start_if_wanted as start_tracing_if_wanted

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DATABASE_POOL"] = "true"

start_tracing_if_wanted()  # before the application: it adds a middleware
application = get_asgi_application()
count_this_worker()
warn_if_static_files_are_not_collected()
