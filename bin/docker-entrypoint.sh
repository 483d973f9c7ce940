#!/bin/sh
# Start Ironclad as deployed: apply migrations, make sure static files are collected, then
# replace this shell with gunicorn (exec), so SIGTERM from Docker or the platform reaches
# gunicorn directly and it shuts down gracefully. Works outside Docker too, from any folder,
# with the Python environment's bin directory on PATH (or PYTHON=/path/to/python).
set -eu

cd "$(dirname "$0")/.."
python="${PYTHON:-python}"

"$python" manage.py migrate --noinput

# The image collects static files at build time. Elsewhere (a fresh checkout, or STATIC_ROOT
# pointed at an empty folder) collect them now: without the manifest the admin and /api/docs
# pages fail with DEBUG off. STATIC_ROOT must come from the real environment for this check.
if [ ! -f "${STATIC_ROOT:-staticfiles}/staticfiles.json" ]; then
    "$python" manage.py collectstatic --noinput
fi

exec "$python" -m gunicorn -c gunicorn.conf.py ironclad.wsgi:application
