#!/bin/sh
# Start Ironclad as deployed: apply migrations, collect static files if they are missing, then
# replace this shell with the server (exec, so SIGTERM from Docker or the platform reaches it
# directly and it shuts down gracefully). config/serve.py picks the server: granian by default,
# SERVER=gunicorn or SERVER=uvicorn otherwise. Works outside Docker too, from any folder, with the
# Python environment's bin directory on PATH (or PYTHON=/path/to/python).
set -eu

cd "$(dirname "$0")/.."
python="${PYTHON:-python}"

"$python" manage.py migrate --noinput

# The image collects static files at build time. Elsewhere (a fresh checkout, or STATIC_ROOT
# pointed at an empty folder) collect them now. Without them the admin and /api/docs still work,
# served from the apps, but unhashed and uncompressed. The settings know where they go (STATIC_ROOT
# may be set in .env), so they are asked.
if ! "$python" manage.py shell --no-imports -c \
    "from django.conf import settings; raise SystemExit(not settings.STATIC_COLLECTED)"; then
    "$python" manage.py collectstatic --noinput
fi

exec "$python" -m config.serve
