# syntax=docker/dockerfile:1
# One image for every process type: web (the default CMD), worker (`python -m workers`)
# and release (`atp migrate`). Build: `docker build -t atp .`

# ---- build: install the project and its dependencies into a self-contained venv ----------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, from pyproject.toml alone, so editing source code does not re-download them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# Then the project itself (what gets in is governed by .dockerignore and [tool.setuptools]).
COPY . .
# Smoke-import from outside the source tree, so it is the installed package (with its data) that loads.
RUN pip install --no-deps . \
    && cd /tmp && python -c "import app.main, app.settings, db.piccolo_conf"


# ---- runtime ---------------------------------------------------------------------------------------------
FROM python:3.11-slim

# The package lives in site-packages, which the runtime user cannot (and should not) write to: the
# data directory points somewhere it owns.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000 \
    ATP_DATA_DIR=/var/lib/atp \
    PICCOLO_CONF=db.piccolo_conf

RUN groupadd --system --gid 10001 atp \
    && useradd --system --uid 10001 --gid atp --home-dir /var/lib/atp --shell /usr/sbin/nologin atp \
    && install -d -o atp -g atp -m 0750 /var/lib/atp

COPY --from=build /opt/venv /opt/venv

# Secrets mounted as files (Docker/Compose secrets) become environment variables: for each VAR below,
# VAR_FILE=/run/secrets/... is read into VAR unless VAR is already set. Then exec the real command, so
# the application is PID 1 and receives SIGTERM directly.
COPY --chmod=0755 <<'EOF' /usr/local/bin/atp-entrypoint
#!/bin/sh
set -eu
for var in ATP_JWT_PRIVATE_KEY MEILI_MASTER_KEY DATABASE_URL REDIS_URL ATP_METRICS_TOKEN; do
    eval "file=\${${var}_FILE:-}"
    eval "value=\${${var}:-}"
    if [ -n "$file" ] && [ -z "$value" ]; then
        if [ ! -r "$file" ]; then
            echo "atp-entrypoint: ${var}_FILE=$file is not readable" >&2
            exit 1
        fi
        value="$(cat "$file")"
        export "$var=$value"
    fi
    unset "${var}_FILE"
done
exec "$@"
EOF

WORKDIR /var/lib/atp
USER atp:atp
EXPOSE 8000

# Liveness only (/health does not touch PG/Redis). Compose overrides it with /ready for the web service
# and with `arq --check` for the worker, whose only HTTP is its /metrics server.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]

ENTRYPOINT ["atp-entrypoint"]
# Shell form only to expand $PORT (platforms that inject PORT run the image's CMD); `exec` keeps
# uvicorn as PID 1.
CMD ["sh", "-c", "exec uvicorn app.main:create_app --factory --host 0.0.0.0 --port \"${PORT:-8000}\""]
