# Signals API: `docker run -p 8000:8000 -e OPENAI_BASE_URL=... -e SIGNALS_LLM_MODEL=... signals`
# Without DATABASE_URL it runs its own embedded PostgreSQL in /data (mount a volume there).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SIGNALS_DATA_DIR=/data \
    SIGNALS_HOST=0.0.0.0 \
    SIGNALS_PORT=8000

WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY schemas ./schemas
COPY sql ./sql
RUN pip install . && mkdir -p /data

VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["signals", "serve"]
