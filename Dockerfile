# Gatehouse in production: one `python main.py serve` per container, as a non-root user.
# Build: docker build -t gatehouse .   With PostgreSQL and Redis: docker compose up (compose.yaml).
# Settings come from the environment (every one is listed in .env.example); the image sets
# only APP_ENV=production, HOST and PORT. docs/DEPLOYMENT.md, "Containers".

FROM python:3.11-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN groupadd --system --gid 10001 gatehouse \
    && useradd --system --uid 10001 --gid gatehouse --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin gatehouse \
    && mkdir /data && chown gatehouse:gatehouse /data

WORKDIR /app
# The dependencies pyproject.toml pins, in a layer of their own that a code change reuses.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && python -m venv /opt/gatehouse \
    && /opt/gatehouse/bin/pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Only what the server runs, owned by root and so read-only to it: no tests, no benchmarks,
# and no GraphiQL page or assets, which production never serves (.dockerignore).
COPY main.py ./
COPY app ./app
COPY auth ./auth
COPY core ./core
COPY examples ./examples
COPY models ./models
COPY resolvers ./resolvers
COPY schema ./schema
COPY services ./services
COPY web ./web

ENV PATH=/opt/gatehouse/bin:$PATH \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000
# The one directory the server may write: the default SQLite database (sqlite://gatehouse.db)
# and its stamp file land here, and a `.env` is read from here; mount a volume to keep them.
WORKDIR /data
USER 10001:10001
EXPOSE 8000
# Healthy only while the database answers and holds every migration (web/health.py).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"]
CMD ["python", "/app/main.py", "serve"]
