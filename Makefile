# The two commands of the README:
#   make demo   set up .venv (first time) and moderate the bundled sample
#   make test   set up .venv (first time) and run the whole test suite
.PHONY: setup demo test lint bench finetuned-model

VENV := .venv
STAMP := $(VENV)/.crowdlens-installed

$(STAMP): pyproject.toml scripts/setup.sh $(wildcard models/*/head.npz models/*/tail.npz models/*/bundle-meta.json)
	./scripts/setup.sh
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/crowdlens moderate examples/sample/photos --out out/sample --overwrite \
		--model models/grocery-lite2

test: $(STAMP)
	$(VENV)/bin/python -m pytest

# Not part of set-up: ~30 min on 2 cores. The fine-tuned grocery model of
# docs/benchmarks.md (81.8 % val top-1 vs the shipped head's 76.7 %).
GROCERY := ../shared/data/grocery-store
finetuned-model: $(STAMP)
	$(VENV)/bin/crowdlens train --train $(GROCERY)/train --val $(GROCERY)/val \
		--out models/grocery-lite0-ft --mode finetune --init-head models/grocery-lite0 \
		--freeze-bn --epochs 10 --batch-size 32 --num-processes 2 --master 'local[2]'

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
