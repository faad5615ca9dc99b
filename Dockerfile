# Easel's image: docker build, podman build or buildah bud.
#
# The base is pinned by digest: the official python:3.11-slim-bookworm by default. Where no
# registry can be reached, make an equivalent from Debian's packages with docker/base.sh and
# pass the digest it prints: --build-arg BASE=localhost/easel-base@sha256:…
ARG BASE=docker.io/library/python:3.11.10-slim-bookworm@sha256:5148c0e4bbb64271bca1d3322360ebf4bfb7564507ae32dd639322e4952a6b16
FROM ${BASE}

# DATA_DIR and HEALTH_* here serve `python -m bot check` and `sync` in the image; the bot itself
# gets them on its command line (CMD below), which an --env-file can't override.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/easel/bin:$PATH WORKER_ID=easel \
    DATA_DIR=/data HEALTH_PORT=8080 HEALTH_HOST=0.0.0.0 WEB_HOST=0.0.0.0
WORKDIR /app

# The locked dependencies first (this layer outlives code changes); asyncpg for PostgreSQL too.
# Behind a TLS-inspecting proxy, hand pip its CA bundle as the optional build secret pip_ca:
#   --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt
COPY requirements.lock ./
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
    && python3 -m venv /opt/easel \
    && pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
    && pip install --no-deps --no-compile . \
    && useradd --system --uid 10001 --home-dir /data --no-create-home easel \
    && mkdir -p /data && chown easel /data

USER easel
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)" || exit 1
# The data directory and the health endpoint are given on the command line, which wins over
# the environment: an --env-file (an .env made from .env.example) can't move them somewhere
# the image can't write or the HEALTHCHECK doesn't look.
CMD ["python", "-m", "bot", "run", "--data-dir", "/data", "--health-port", "8080", "--health-host", "0.0.0.0"]
