FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DATA_DIR=/data
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-compile . \
    && useradd --system --uid 10001 --home /app easel \
    && mkdir -p /data && chown easel /data

USER easel
VOLUME ["/data"]
EXPOSE 8080
CMD ["python", "-m", "bot"]
