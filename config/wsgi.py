"""WSGI entry point: how Ironclad is served (granian by default, or gunicorn; see config/serve.py)."""

import os

from django.core.wsgi import get_wsgi_application

from ironclad.logs import warn_if_static_files_are_not_collected

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()
warn_if_static_files_are_not_collected()
