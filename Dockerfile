# syntax=docker/dockerfile:1
# Signals API. Build: `docker build -t signals .`; run: see README, "Deploying".
# Two stages: wheels are built with pip's build tooling in the first, and only the wheels are
# installed into the slim runtime image, which runs as an unprivileged user owning /data.

FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY schemas ./schemas
COPY sql ./sql
# The project and every dependency as wheels: on x86-64 each dependency ships a manylinux wheel
# except feedgen, pure Python, which pip builds without a compiler. The project's wheel leaves
# out service/llmstub, the development LLM (`signals llm-stub`; pyproject.toml excludes it from
# wheels), so the image carries only what serves: it reaches a real model via OPENAI_BASE_URL.
RUN pip wheel --wheel-dir /wheels .


FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SIGNALS_DATA_DIR=/data \
    SIGNALS_HOST=0.0.0.0 \
    SIGNALS_PORT=8000

# A fixed uid/gid, so that a host folder mounted at /data can be given to it (chown 10001:10001).
RUN groupadd --system --gid 10001 signals \
    && useradd --system --uid 10001 --gid signals --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin signals \
    && mkdir /data \
    && chown signals:signals /data

# Mounted, not copied: the wheels never become a layer of the runtime image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/signals-*.whl

USER 10001:10001
WORKDIR /data
# Without DATABASE_URL the embedded PostgreSQL, the webhook secret key and everything else
# the service keeps live here: mount a volume on it.
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
CMD ["signals", "serve"]
