# Production API image: multi-stage, slim, non-root, health-checked.
#   docker build -t obesity-risk .
#   docker run -p 8000:8000 -e MLFLOW_TRACKING_URI=http://mlflow:5000 obesity-risk
# Without a reachable registry the API serves the champion baked from models/champion (if any).
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements.txt pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install -r requirements.txt \
    && /opt/venv/bin/pip install --no-deps .

FROM python:3.11-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    OBESITY_RISK_HOME=/app \
    OBESITY_RISK__SERVING__HOST=0.0.0.0 \
    OBESITY_RISK__SERVING__PORT=8000 \
    OBESITY_RISK__LOGGING__FILE=false \
    MPLCONFIGDIR=/tmp/matplotlib \
    PYTHONUNBUFFERED=1
WORKDIR /app
# the committed raw data (schema checks, batch scoring) and whatever champion was exported,
# owned by root and read-only to the API user: code running in the API cannot persist there
COPY data/raw ./data/raw
COPY models ./models
RUN mkdir -p /app/reports /app/logs /app/mlruns /app/batch \
    && chown app:app /app/reports /app/logs /app/mlruns /app/batch /app/data \
    && chmod -R a-w /app/data/raw /app/models
USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-m", "obesity_risk.healthcheck", "http://127.0.0.1:8000/health"]
CMD ["obesity-risk", "serve"]
