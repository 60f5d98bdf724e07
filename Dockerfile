# syntax=docker/dockerfile:1
# CodeAI image: `docker build --build-arg VERSION=… --build-arg BUILD_DATE=… --build-arg
# GIT_COMMIT=… -t codeai .` (or `make build`). Runs as uid/gid 1000 on a read-only root
# filesystem: everything it writes goes to /data (CODEAI_DATA_DIR) and /tmp, mount both
# (volume or tmpfs). In production give it CODEAI_SECRET_KEY(_FILE): /data may be ephemeral.

# --- build: wheels for the project and every pinned dependency --------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements.txt ./
RUN pip wheel --wheel-dir /wheels -r requirements.txt
COPY pyproject.toml README.md ./
COPY codeai ./codeai
COPY configs ./configs
COPY deployments ./deployments
COPY duties ./duties
COPY executions ./executions
COPY schedules ./schedules
COPY templates ./templates
COPY webhooks ./webhooks
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- runtime ----------------------------------------------------------------------------
FROM python:3.11-slim
ARG VERSION=dev
ARG BUILD_DATE=unknown
ARG GIT_COMMIT=unknown
LABEL org.opencontainers.image.title="codeai" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.revision="${GIT_COMMIT}"

# bubblewrap sandboxes every exec step (CODEAI_EXEC_SANDBOX=bwrap, the default).
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 1000 codeai \
    && useradd --uid 1000 --gid 1000 --no-create-home --shell /usr/sbin/nologin codeai \
    && mkdir -p /data \
    && chown 1000:1000 /data

COPY deploy/docker/install-venv.sh /usr/local/lib/codeai/install-venv.sh
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    PIP_NO_INDEX=1 PIP_NO_CACHE_DIR=1 sh /usr/local/lib/codeai/install-venv.sh /wheels /opt/codeai
# The guide's path for the command (`exec codeai /app/codeai server migrate`).
RUN mkdir -p /app && ln -s /opt/codeai/bin/codeai /app/codeai

# CODEAI_VERSION/BUILD_DATE/GIT_COMMIT feed `codeai version`; no bytecode or other writes
# at run time; Prometheus' per-process metric files on the /tmp tmpfs.
ENV PATH=/opt/codeai/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CODEAI_VERSION=${VERSION} \
    CODEAI_BUILD_DATE=${BUILD_DATE} \
    CODEAI_GIT_COMMIT=${GIT_COMMIT} \
    CODEAI_DATA_DIR=/data \
    CODEAI_HOST=0.0.0.0 \
    CODEAI_PORT=8080 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

WORKDIR /app
USER 1000:1000
VOLUME ["/data"]
EXPOSE 8080

# Slim images have no wget or curl: the standard library probes /health.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:%s/health' % os.environ.get('CODEAI_PORT', '8080'), headers={'Host': 'localhost'}), timeout=3)"]

ENTRYPOINT ["/app/codeai"]
CMD ["server", "start", "--host", "0.0.0.0"]
