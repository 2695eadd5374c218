# obesity-risk: `make run` (set up + train + show where everything is) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV := .venv-checkov/bin/checkov
BUDGET ?= default
REPEAT ?= 2
MLFLOW_PORT ?= 5000
LAB_PORT ?= 8888
API_PORT ?= 8000
DOCS_PORT ?= 8001
SERVE ?= 1
PYTEST_ARGS ?=

.PHONY: help install lock test-containers system-deps run reports train serve mlflow lab lab-server lint format test test-fast bench-train bench-serve bench-batch dashboards figures docs docs-build clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# the hashed lock is what gets installed (every transitive package, --require-hashes); the
# requirements*.txt it is compiled from are edited by hand (make lock)
$(STAMP): requirements-dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# checkov pins its own boto3: it lives in its own environment, from its own hashed lock
$(CHECKOV): requirements-checkov.lock
	@test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements-checkov.lock
	@touch $(CHECKOV)

install: $(STAMP)  ## create .venv and install the package from the hashed lock (requirements-dev.lock)

lock: install  ## recompile the hashed locks requirements*.lock from the hand-edited requirements*.txt
	$(BIN)/python tools/lock.py

run: install  ## set up, train the default budget, build the reports, print where everything is, serve the API (SERVE=0: stop before serving)
	$(BIN)/obesity-risk train --budget $(BUDGET)
	$(BIN)/obesity-risk report --kind all --current data/raw/obesity_uci_original.csv || test $$? -eq 3
	@echo ""
	@echo "  training summary : reports/training/summary.json"
	@echo "  champion export  : models/champion/ (MLflow model + card.json + reference.parquet)"
	@echo "  model card       : reports/model-card/index.html (open in a browser; also GET /model/card)"
	@echo "  drift reports    : reports/monitoring/index.html (open in a browser)"
	@echo "  MLflow store     : mlruns/ (browse: make mlflow -> http://localhost:$(MLFLOW_PORT))"
	@echo "  notebooks        : make lab -> http://localhost:$(LAB_PORT)"
	@echo "  batch scoring    : $(BIN)/obesity-risk predict -i data/raw/obesity_uci_original.csv -o reports/predictions.csv"
	@echo "  API              : http://localhost:$(API_PORT) (form), /docs, /metrics (make serve; Ctrl-C stops it)"
	@echo ""
	@if [ "$(SERVE)" != "0" ]; then $(BIN)/obesity-risk serve --port $(API_PORT); fi

train: install  ## train with BUDGET=smoke|default|full (MODELS=lgbm,xgb to restrict)
	$(BIN)/obesity-risk train --budget $(BUDGET) $(if $(MODELS),--models $(MODELS),)

reports: install  ## Evidently reports (all kinds) on the UCI file vs the champion -> reports/monitoring/
	$(BIN)/obesity-risk report --kind all --current data/raw/obesity_uci_original.csv || test $$? -eq 3

serve: install  ## FastAPI service on port 8000 (champion from the registry, else models/champion)
	$(BIN)/obesity-risk serve --port $(API_PORT)

mlflow: install  ## MLflow UI on port 5000 over the project's store
	$(BIN)/mlflow server --backend-store-uri "$$($(BIN)/python -c 'from obesity_risk.config import load_settings; print(load_settings().tracking_uri)')" \
		--default-artifact-root "$$($(BIN)/python -c 'from obesity_risk.config import load_settings; print(load_settings().artifact_location)')" \
		--host 127.0.0.1 --port $(MLFLOW_PORT)

lab: install  ## JupyterLab on port 8888, rooted at the project, with a token
	@$(MAKE) --no-print-directory lab-server

lab-server:  # (no install step: used by the tests) JupyterLab with a token, never an empty one
	@TOKEN=$${JUPYTER_TOKEN:-$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(16))')}; \
	echo "JupyterLab: http://localhost:$(LAB_PORT)/lab?token=$$TOKEN"; \
	MLFLOW_TRACKING_URI="$$($(BIN)/python -c 'from obesity_risk.config import load_settings; print(load_settings().tracking_uri)')" \
	exec $(BIN)/jupyter lab --no-browser --ip 127.0.0.1 --port $(LAB_PORT) --ServerApp.root_dir=$(CURDIR) \
		--IdentityProvider.token=$$TOKEN --ServerApp.open_browser=False \
		$$([ "$$(id -u)" = 0 ] && echo --allow-root)

lint: install $(CHECKOV)  ## ruff + pylint + import-linter + the locks + Dockerfile/compose checks + pip-audit + SBOMs
	$(BIN)/ruff check src tests benchmarks docker tools
	$(BIN)/ruff format --check src tests benchmarks docker tools
	$(BIN)/pylint src/obesity_risk
	$(BIN)/lint-imports
	$(BIN)/python tools/lock.py --check
	$(BIN)/hadolint --config .hadolint.yaml Dockerfile docker/standins/*/Dockerfile
	$(CHECKOV) --quiet --compact --config-file .checkov.yaml
	$(BIN)/python tools/supply_chain.py

format: install  ## apply ruff formatting and fixes
	$(BIN)/ruff format src tests benchmarks docker tools
	$(BIN)/ruff check --fix src tests benchmarks docker tools

system-deps:  ## Debian packages for the browser / PostgreSQL / compose tests (installs what is missing)
	@bash .ci/system-deps.sh

# OMP_WAIT_POLICY=PASSIVE: OpenMP threads sleep instead of spinning, so a test process and a
# server process that both run LightGBM on 2 cores do not starve each other
test: install system-deps  ## the whole test suite (what CI runs)
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest $(PYTEST_ARGS)

# a real container engine (podman + runc from Debian, installed when missing): the images
# built from the Dockerfile, the API image alone, the compose stack (tests/containers)
test-containers: install  ## build the images and run them and the compose stack on podman (CI runs it after make test)
	@bash .ci/container-deps.sh
	$(BIN)/python -m pytest tests/containers -m containers $(PYTEST_ARGS)

test-fast: install  ## everything but the slow end-to-end suites
	$(BIN)/python -m pytest -m "not slow and not containers" $(PYTEST_ARGS)

bench-serve: install  ## serving over HTTP (wrk): API vs no-model ceiling vs `mlflow models serve`, classifier and regression -> reports/benchmarks/serving*.json
	$(BIN)/python benchmarks/bench_serve.py; status=$$?; \
	$(BIN)/python benchmarks/bench_serve_regression.py || status=1; exit $$status

bench-batch: install  ## batch scoring of 1,000,000 rows: pandas vs Dask 1 and 2 workers, REPEAT rounds -> reports/benchmarks/batch.json
	$(BIN)/python benchmarks/bench_batch.py --repeat $(REPEAT)

bench-train: install  ## training benchmark -> reports/benchmarks/training-$(BUDGET).json
	$(BIN)/python benchmarks/bench_train.py --budget $(BUDGET) --ablation

dashboards: install  ## rebuild docker/grafana/dashboards/*.json from docker/grafana/dashboards.py
	$(BIN)/python docker/grafana/dashboards.py

# a test run writes its screenshots under its temp dir only; these tests copy theirs into
# $OBESITY_RISK_FIGURES (tests/helpers/figures.py)
figures: install system-deps  ## the README's screenshots and drift panel -> reports/figures/*.png (browser and observability tests)
	OBESITY_RISK_FIGURES=reports/figures OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest tests/integration/test_browser.py tests/integration/test_observability.py $(PYTEST_ARGS)

docs: install  ## the documentation site on http://127.0.0.1:8001 (live reload while editing docs/)
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(BIN)/mkdocs serve -a 127.0.0.1:$(DOCS_PORT)

docs-build: install  ## build the documentation site into site/ (--strict: any warning fails; CI runs it)
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(BIN)/mkdocs build --strict

clean:  ## remove generated stores and reports (keeps data/raw and the venv)
	rm -rf mlruns logs models/champion reports/training .pytest_cache
