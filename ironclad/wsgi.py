"""WSGI entry point: the default way to serve Ironclad (gunicorn; see DESIGN §6)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ironclad.settings")

application = get_wsgi_application()
