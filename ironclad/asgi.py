"""ASGI entry point for deployments that want uvicorn; the API itself is synchronous."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ironclad.settings")

application = get_asgi_application()
