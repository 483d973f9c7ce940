# Ironclad: Django REST API served by gunicorn (WSGI) on ${PORT:-7860}.
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=7860

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files for the admin and the API docs, served by WhiteNoise. The secrets here
# exist only so that settings load during the build; they are not in the final environment.
RUN SECRET_KEY=collectstatic-only BETTER_AUTH_SECRET=collectstatic-only \
    python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 ironclad \
    && chown -R ironclad:ironclad /app

USER ironclad
EXPOSE 7860

# Apply migrations, then hand the process over to gunicorn so it receives SIGTERM directly.
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn ironclad.wsgi:application --bind 0.0.0.0:${PORT:-7860} --workers ${WEB_CONCURRENCY:-2} --access-logfile - --graceful-timeout 20"]
