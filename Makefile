# The two commands of the README: `make demo` and `make test`. Each creates .venv and installs
# the pinned stack (pyproject.toml) on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo-out

# Quiet, offline-friendly defaults for everything make runs.
export RAY_USAGE_STATS_ENABLED := 0
export MLFLOW_DISABLE_TELEMETRY := true
export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test test-fast bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# The main job on embedded defaults: toy features with planted anomalies → train the methods →
# print their metrics. (Later issues grow it into extraction → sweep → retrain → table.)
demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/wsvad toy-features --out $(DEMO)/features --videos 128 --crops 2
	$(BIN)/wsvad train --features $(DEMO)/features --method mil --max-steps 300 --set batch_size=16 --out $(DEMO)/mil
	$(BIN)/wsvad train --features $(DEMO)/features --method rtfm --max-steps 80 --set batch_size=8 --out $(DEMO)/rtfm
	@echo "demo outputs in $(DEMO)/ (metrics.json, frame_scores.parquet, checkpoint.pt per method)"

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/train_step.py

clean:
	rm -rf $(DEMO) .pytest_cache
