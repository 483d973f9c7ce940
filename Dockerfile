# Ironclad: Django REST API served by granian (WSGI; config/serve.py) on ${PORT:-7860}.
#   docker build -t ironclad . && docker run --env-file .env -p 7860:7860 ironclad
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=7860

# A non-root user; uid 1000 is also the user Hugging Face Spaces runs a Docker Space as.
RUN useradd --create-home --uid 1000 ironclad \
    && mkdir /app \
    && chown ironclad:ironclad /app
WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes
# (psycopg[binary] brings its own libpq, so no system packages are needed).
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=ironclad:ironclad . .
USER ironclad

# Static files for the admin and the API docs (content-hashed, gzipped), served by WhiteNoise.
# The secrets exist only so that settings load during the build; they are not in the image's
# environment, and the build needs no database.
RUN SECRET_KEY=collectstatic-only-not-a-real-secret-key \
    BETTER_AUTH_SECRET=collectstatic-only-not-a-real-secret-key \
    python manage.py collectstatic --noinput

EXPOSE 7860

# slim images have no curl. urlopen fails on anything but a 2xx, and /health answers 503 when the
# database is unreachable or migrations are pending. Its Host is 127.0.0.1: keep it in ALLOWED_HOSTS.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORT:-7860}/health', timeout=4)"

# Migrations, then `exec python -m config.serve`: the server (granian unless SERVER says otherwise)
# is PID 1 and receives SIGTERM itself. Another command replaces it, e.g.
# `docker run ... ironclad python manage.py createsuperuser`.
CMD ["bin/docker-entrypoint.sh"]
