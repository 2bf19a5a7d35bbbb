# One command per habit. Every target creates or reuses the virtualenv in .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help run demo test lint typecheck unit frozen calendar containers check-config bench audit golden rules k8s clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP) ## run the exporter on :9210 with the bundled example config (no credentials needed)
	COST_CONFIG_FILE=$${COST_CONFIG_FILE:-exporter/config.example.yml} \
	COST_STATE_DIR=$${COST_STATE_DIR:-.state} \
	COST_LOG_FORMAT=$${COST_LOG_FORMAT:-console} \
	$(BIN)/cost-exporter

demo: $(STAMP) ## every provider from fake billing APIs on :9210, made-up data, temporary state
	COST_LOG_FORMAT=$${COST_LOG_FORMAT:-console} $(BIN)/cost-exporter demo

test: lint typecheck unit frozen ## lint, types, unit + end-to-end tests, frozen clock (CI then runs make containers)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check exporter tests grafana prometheus bench deploy
	$(BIN)/ruff format --check exporter tests grafana prometheus bench deploy

typecheck: $(STAMP) ## mypy --strict over the package
	$(BIN)/mypy

unit: $(STAMP) ## pytest (real prometheus/alertmanager end-to-end tests included when installed)
	$(BIN)/pytest -n 2 --dist loadgroup

# The 1st of a month at 00:10 UTC, after a February: no day of the month has completed yet.
FROZEN_AT ?= 2027-03-01 00:10:00
frozen: $(STAMP) ## the unit tests again with the clock set to FROZEN_AT (needs Debian's faketime)
	@command -v faketime >/dev/null || { echo "faketime not found: apt-get install faketime" >&2; exit 1; }
	faketime -f '@$(FROZEN_AT)' $(BIN)/pytest -n 2 -q -p no:cacheprovider --ignore=tests/e2e

calendar: $(STAMP) ## 62 simulated days: the forecast error per day, as tests/test_calendar.py checks it
	$(BIN)/python -m tests.calendar_month

containers: $(STAMP) ## the README's Docker quick start in real containers (podman, as root; after test)
	$(BIN)/pytest -m containers -s --tb=short -p no:cacheprovider tests/e2e/test_compose_in_containers.py

check-config: $(STAMP) ## validate the config named by COST_CONFIG_FILE
	$(BIN)/cost-exporter check-config

bench: $(STAMP) ## benchmarks: scrape, refresh, footprint, 100 accounts under rate limits (see bench/RESULTS.md)
	@command -v wrk >/dev/null || echo "wrk not found (apt-get install wrk): the scrape ratios will not be printed" >&2
	$(BIN)/python -m bench

audit: $(STAMP) ## pip-audit over the locked dependencies (needs network access to the advisory DB)
	$(BIN)/pip install --quiet pip-audit
	$(BIN)/pip-audit -r constraints.txt

golden: $(STAMP) ## rewrite tests/golden after an intended /metrics change
	UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/test_golden.py

# Prometheus 2.42 takes no variable in a rule's annotations: the base is written into the files.
rules: $(STAMP) ## point runbook_url (rules, their tests, dashboard links) at RUNBOOK_BASE/docs/runbook.md
	@test -n "$(RUNBOOK_BASE)" || { echo "usage: make rules RUNBOOK_BASE=https://<where the repository's files are served>" >&2; exit 2; }
	$(BIN)/python prometheus/runbook.py '$(RUNBOOK_BASE)'
	$(BIN)/python grafana/dashboard.py > grafana/dashboards/costs.json

k8s: $(STAMP) ## regenerate deploy/kubernetes from the rules, dashboard, example config and registry
	$(BIN)/python deploy/kubernetes/generate.py

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .state .pytest_cache .mypy_cache .ruff_cache
