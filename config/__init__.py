"""The project's configuration: settings, URLs and how it is served (WSGI, ASGI, `python -m config.serve`)."""
