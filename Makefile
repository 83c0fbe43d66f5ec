# The two commands of the README:
#   make demo   set up .venv (first time) and moderate the bundled sample
#   make test   set up .venv (first time) and run the whole test suite
.PHONY: setup demo test lint bench

VENV := .venv
STAMP := $(VENV)/.crowdlens-installed

$(STAMP): pyproject.toml scripts/setup.sh $(wildcard models/*/head.npz)
	./scripts/setup.sh
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/crowdlens moderate examples/sample/photos --out out/sample --overwrite \
		--model models/grocery-lite0

test: $(STAMP)
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
