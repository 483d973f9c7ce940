"""WSGI entry point: how Ironclad is served (granian by default, or gunicorn; see config/serve.py)."""

import os

from django.core.wsgi import get_wsgi_application

from ironclad.logs import warn_if_static_files_are_not_collected
from ironclad.metrics import count_this_worker
from ironclad.tracing import start_if_wanted as start_tracing_if_wanted

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

start_tracing_if_wanted()  # before the application: it adds a middleware
application = get_wsgi_application()
count_this_worker()
warn_if_static_files_are_not_collected()
