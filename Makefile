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

# Small versions of the heavy architectures so that all ten methods sweep on 2 CPU cores in minutes
# (VadCLIP, whose prompts run through CLIP's text block at every step, is the longest: half its batch).
# The toy clips are 6-10 snippets long: Temporal MAE's windows (the segments=32 above) would each cover a
# whole clip and give every frame of a clip one score, so it gets windows of 6 (its forecasting head, which
# the search can switch on, predicts 4).
DEMO_SMALL := --set batch_size=8 --set segments=32 --set text_layers=1 --set task_dim=32 --set dims=32,64 \
              --set depths=1,1 --set dim_head=32 --set mgfn_types=gb,fb --set layers=1 \
              --set temporal_mae.segments=6 --set vadclip.batch_size=4

# The main job on embedded defaults, end to end on real (procedurally generated) video:
#   toy surveillance clips → Ray Data extraction with real EfficientNet-Lite0 weights → a sweep of all
#   ten methods (local Ray, Optuna + ASHA, MLflow in ./demo-out/mlflow.db) → the best configuration of
#   each retrained over 2 seeds, the best seed registered as @champion → the reproduction table →
#   a test clip scored by the RTFM champion → how to open the MLflow UI.
DEMO_TRACKING := sqlite:///$(CURDIR)/$(DEMO)/mlflow.db
DEMO_CLIP = $$(awk -F, '$$4 == "test" && $$2 == 1 { print $$1; exit }' $(DEMO)/videos/manifest.csv)
demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/wsvad toy-videos --out $(DEMO)/videos --videos 24
	$(BIN)/wsvad extract --manifest $(DEMO)/videos/manifest.csv --dataset toy-videos --backbone effnet-lite0 \
	    --workers 2 --cpus-per-worker 0.75 \
	    --annotations $(DEMO)/videos/annotations.csv --annotation-format csv --out $(DEMO)/features
	$(BIN)/wsvad sweep --features $(DEMO)/features --methods all --trials 2 --max-steps 20 --evals-per-trial 2 \
	    --name demo --storage $(DEMO)/sweeps --tracking-uri $(DEMO_TRACKING) $(DEMO_SMALL)
	$(BIN)/wsvad retrain --sweep demo --storage $(DEMO)/sweeps --seeds 2
	$(BIN)/wsvad table --sweep demo --storage $(DEMO)/sweeps --format md --out $(DEMO)/table.md
	$(BIN)/wsvad score $(DEMO)/videos/$(DEMO_CLIP) --model models:/wsvad-toy-videos-rtfm@champion \
	    --tracking-uri $(DEMO_TRACKING) --annotations $(DEMO)/videos/annotations.csv --out $(DEMO)/scored
	@echo
	@cat $(DEMO)/table.md
	@echo
	@echo "table: $(DEMO)/table.md (chart $(DEMO)/table.png); scored clip: $(DEMO)/scored/"
	@echo "open the MLflow UI:  $(BIN)/mlflow ui --backend-store-uri $(DEMO_TRACKING) --host 127.0.0.1 --port 5000"
	@echo "                     then browse http://127.0.0.1:5000 (experiment wsvad/toy-videos/...)"

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
