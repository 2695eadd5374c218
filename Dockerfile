# One Dockerfile, two images by role (built with --format docker so HEALTHCHECK is kept):
#   serving  (default): the API, batch scoring on Dask, the registry client and the stack's jobs
#            docker build -t obesity-risk-serving:0.1.0 .
#   research: serving + JupyterLab, Optuna, the MLflow server and UI, Evidently reports
#            docker build --target research -t obesity-risk:0.1.0 .
# Dependencies come from the hashed locks (pip --require-hashes) through a pinned pip of its own
# stage (none ships in the serving image); the project is a wheel built in its own
# stage and installed last, so a code change rebuilds only the last layers.
# Without a reachable registry the API serves the champion baked from models/champion (if any).
FROM python:3.11-slim AS base
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore \
    PATH=/opt/venv/bin:$PATH \
    OBESITY_RISK_HOME=/app \
    OBESITY_RISK__SERVING__HOST=0.0.0.0 \
    OBESITY_RISK__SERVING__PORT=8000 \
    OBESITY_RISK__SERVING__PREDICTION_STORE=sqlite:////app/state/predictions.db \
    OBESITY_RISK__LOGGING__FILE=false \
    MPLCONFIGDIR=/tmp/matplotlib \
    PYTHONUNBUFFERED=1
# libgomp1: OpenMP of LightGBM and XGBoost; the app user owns only the writable folders
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 app \
    && python -m venv --without-pip /opt/venv \
    && mkdir -p /app/state /app/reports /app/logs /app/mlruns /app/batch \
    && chown app:app /app/state /app/reports /app/logs /app/mlruns /app/batch
WORKDIR /app

# the pinned installer and build backend (requirements-build.lock), used by the stages below
FROM base AS installer
COPY requirements-build.lock /tmp/
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r /tmp/requirements-build.lock

# the project, built as a wheel without build isolation and installed under /pkg as it will
# sit in /opt/venv (the final stages copy it in: no installer in them)
FROM installer AS app
COPY pyproject.toml README.md requirements-serving.txt requirements-research.txt /src/
COPY src /src/src
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels /src \
    && /opt/build/bin/pip --python /opt/venv/bin/python install --no-deps --root /pkg \
        /wheels/*.whl

# no blanket bytecode (a third of the layer): what serving imports is compiled by importing it;
# the packages' test suites, C sources and headers, the largest libraries' symbol tables and
# pyarrow's Flight (about 150 MB) are not shipped (only libraries built by their
# projects are stripped: strip corrupts the ones auditwheel patched, e.g. numpy's OpenBLAS)
FROM base AS serving-venv
RUN apt-get update && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
COPY --from=installer /opt/build /opt/build
COPY requirements-serving.lock /tmp/
RUN /opt/build/bin/pip --python /opt/venv/bin/python install --no-compile --require-hashes \
        --no-deps -r /tmp/requirements-serving.lock \
    && python -c "import fastapi, fastapi_offline, uvicorn, httptools, uvloop, pydantic, yaml, \
orjson, loguru, typer, pandas, numpy, scipy.special, pyarrow.parquet, sklearn.pipeline, \
sklearn.compose, sklearn.preprocessing, sklearn.tree, sklearn.ensemble, sklearn.metrics, \
lightgbm, xgboost, catboost, shap, cloudpickle, mlflow, mlflow.sklearn, mlflow.pyfunc, \
mlflow.tracking, sqlalchemy, psycopg, prometheus_client, pandera.pandas, cryptography, \
filelock, httpx" \
    && find /opt/venv/lib/python3.11/site-packages -mindepth 2 -maxdepth 2 -type d -name tests \
        -prune -exec rm -rf {} + \
    && find /opt/venv/lib/python3.11/site-packages -type f \( -name "*.pyx" -o -name "*.pxd" \
        -o -name "*.h" -o -name "*.hpp" -o -name "*.c" -o -name "*.cpp" \) -delete \
    && site=/opt/venv/lib/python3.11/site-packages \
    && strip --strip-unneeded "$site"/llvmlite/binding/libllvmlite.so \
        "$site"/catboost/_catboost.so "$site"/uvloop/loop.*.so "$site"/pyarrow/libarrow*.so.* \
        "$site"/pyarrow/libparquet.so.* "$site"/xgboost/lib/libxgboost.so \
    && rm -f "$site"/pyarrow/libarrow_flight.so* "$site"/pyarrow/_flight.*.so \
        "$site"/pyarrow/libarrow_python_flight.so*

FROM base AS serving-deps
COPY --from=serving-venv /opt/venv /opt/venv

# research adds its packages on top of serving's (shared layers); its installer stays (25 MB)
FROM serving-deps AS research-deps
COPY --from=installer /opt/build /opt/build
COPY requirements.lock /tmp/
RUN /opt/build/bin/pip --python /opt/venv/bin/python install --require-hashes --no-deps \
        -r /tmp/requirements.lock

FROM research-deps AS research
COPY --from=app /pkg/opt/venv /opt/venv
# the committed raw data and whatever champion was exported, owned by root and read-only
COPY data/raw ./data/raw
COPY models ./models
VOLUME ["/app/state", "/app/reports"]
USER 10001:10001
EXPOSE 8000 8888
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-m", "obesity_risk.healthcheck", "http://127.0.0.1:8000/health"]
CMD ["obesity-risk", "serve"]

FROM serving-deps AS serving
COPY --from=app /pkg/opt/venv /opt/venv
COPY data/raw ./data/raw
COPY models ./models
VOLUME ["/app/state", "/app/reports"]
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-m", "obesity_risk.healthcheck", "http://127.0.0.1:8000/health"]
CMD ["obesity-risk", "serve"]
