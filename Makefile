PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEPLOY_STAMP := $(VENV)/.deploy-installed

.PHONY: install up test lint deploy-check clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

up: install
	$(BIN)/baton up

test: install
	scripts/test-deps
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The deployment files, validated offline with the tools of the [deploy] extra (docs/deploy.md).
# promtool is Debian's (package prometheus), which scripts/test-deps installs or names.
deploy-check: install $(DEPLOY_STAMP)
	scripts/test-deps
	$(BIN)/hadolint deploy/Dockerfile
	$(BIN)/check-jsonschema --schemafile deploy/schemas/compose-spec.json deploy/compose.yaml
	$(BIN)/kubernetes-validate --strict --quiet deploy/k8s/*.yaml
	promtool check rules deploy/prometheus/baton-rules.yaml
	promtool test rules deploy/prometheus/baton-rules.test.yaml
	$(BIN)/python -m json.tool deploy/grafana/baton.json > /dev/null
	@echo "deploy-check: Dockerfile, compose.yaml, k8s/, the alert rules and the dashboard are valid"

$(DEPLOY_STAMP): pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,deploy]'
	touch $(DEPLOY_STAMP)

clean:
	rm -rf $(VENV) .baton .pytest_cache
