# syntax=docker/dockerfile:1
# Trellis production image: gunicorn serving Django; the same image runs the Celery worker,
# Celery beat and the one-shot migration (see docker-compose.yml).

# ---------------------------------------------------------------- 1. front-end assets
FROM node:20-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund \
 && mkdir -p .assets/vendor \
 && cp node_modules/htmx.org/dist/htmx.min.js \
       node_modules/@picocss/pico/css/pico.min.css \
       node_modules/chart.js/dist/chart.umd.min.js \
       node_modules/chart.js/dist/chart.umd.min.js.map \
       .assets/vendor/

# ---------------------------------------------------------------- 2. Python dependencies
FROM python:3.11-slim AS python-deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# A compiler for any dependency without a wheel for the build platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Only pyproject.toml first, so the dependency layer is rebuilt only when it changes.
# Runtime dependencies only (no [dev] extra), with the pins from pyproject.toml.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

# ---------------------------------------------------------------- 3. runtime
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    WEB_CONCURRENCY=3 \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media

RUN groupadd --system --gid 10001 trellis \
 && useradd --system --uid 10001 --gid trellis --home-dir /app --shell /usr/sbin/nologin trellis

COPY --from=python-deps /opt/venv /opt/venv
WORKDIR /app
# Code and assets stay owned by root (read-only for the app user).
COPY . /app
COPY --from=assets /build/.assets/vendor /app/.assets/vendor

# The project itself, without dependencies (the venv has them). Editable, so the code runs
# from /app and BASE_DIR (portal_templates, static, locale) stays /app.
RUN pip install --no-deps -e .

# Static files, hashed and compressed by WhiteNoise. Settings refuse to load without these
# variables when DEBUG is off; the values are build-time placeholders that never connect.
RUN DEBUG=0 \
    SECRET_KEY=collectstatic-build-only-not-a-secret-0000000000000000000000 \
    DATABASE_URL=postgres://build:build@localhost:5432/build \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput \
 && mkdir -p /app/media /app/.data \
 && chown -R trellis:trellis /app/media /app/.data

USER trellis
EXPOSE 8000

# gunicorn reads WEB_CONCURRENCY (workers) and GUNICORN_CMD_ARGS from the environment.
# The web service's health check lives in docker-compose.yml (it needs an allowed Host).
CMD ["gunicorn", "config.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--access-logfile", "-", \
     "--forwarded-allow-ips", "*"]
