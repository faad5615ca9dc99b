FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DATA_DIR=/data HEALTH_PORT=8080 HEALTH_HOST=0.0.0.0 \
    WEB_HOST=0.0.0.0 WORKER_ID=easel
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-compile '.[postgres,s3]' \
    && useradd --system --uid 10001 --home /app easel \
    && mkdir -p /data && chown easel /data

USER easel
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)" || exit 1
CMD ["python", "-m", "bot"]
