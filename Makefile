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

# Small versions of the heavy architectures so that all ten methods sweep on 2 CPU cores in minutes.
DEMO_SMALL := --set batch_size=8 --set segments=32 --set text_layers=1 --set task_dim=32 --set dims=32,64 \
              --set depths=1,1 --set dim_head=32 --set mgfn_types=gb,fb

# The main job on embedded defaults: toy surveillance clips → Ray Data extraction with real
# EfficientNet-Lite0 weights → RTFM trained on them; then a sweep of all ten methods on toy features
# with planted anomalies (local Ray, Optuna + ASHA, MLflow in ./demo-out/mlflow.db) → the best
# trial of each method, and how to open the MLflow UI.
demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/wsvad toy-videos --out $(DEMO)/videos --videos 24
	$(BIN)/wsvad extract --manifest $(DEMO)/videos/manifest.csv --dataset toy-videos --backbone effnet-lite0 \
	    --annotations $(DEMO)/videos/annotations.csv --annotation-format csv --out $(DEMO)/video-features
	$(BIN)/wsvad train --features $(DEMO)/video-features --method rtfm --max-steps 40 --set batch_size=4 --out $(DEMO)/rtfm
	$(BIN)/wsvad toy-features --out $(DEMO)/features --videos 96 --dim 32 --snippets 32
	$(BIN)/wsvad sweep --features $(DEMO)/features --methods all --trials 3 --max-steps 30 --evals-per-trial 3 \
	    --name demo --storage $(DEMO)/sweeps --tracking-uri sqlite:///$(CURDIR)/$(DEMO)/mlflow.db $(DEMO_SMALL)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/train_step.py
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python benchmarks/extract.py

clean:
	rm -rf $(DEMO) .pytest_cache
