# The single Klaxon container: web, workers, scheduler and embedded Redis under `klaxon serve`.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    KLAXON_DATA_DIR=/data KLAXON_BIND=0.0.0.0:8000
WORKDIR /app
COPY pyproject.toml README.md ./
COPY app.py config.py extensions.py cli.py ./
COPY alerting ./alerting
COPY blueprints ./blueprints
COPY models ./models
COPY workers ./workers
COPY bench ./bench
COPY templates ./templates
COPY static ./static
COPY migrations ./migrations
RUN pip install -e . && useradd --system --uid 10001 --home /data klaxon && mkdir -p /data && chown klaxon /data
USER klaxon
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
CMD ["klaxon", "serve"]
