# hpstudy: the commands a user runs. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

EXP     ?= experiments/digits.toml
TRIALS  ?=
# one worker process per core (each gets its share of the BLAS threads)
WORKERS ?= $(shell nproc 2>/dev/null || echo 1)
STUDY   ?= digits
PORT    ?= 5000
# make server: the database of the runs, and the address to bind (127.0.0.1: this machine only)
DB      ?=
HOST    ?= 127.0.0.1

.PHONY: install test lint bench study ui server report gradcheck clean

install: $(STAMP)

# Re-install when the project metadata changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

# ruff, then the architecture contracts of pyproject.toml's [tool.importlinter] (layers, no import
# circles, pure-NumPy hpstudy.nn, mlflow only in experiment/tracking.py)
lint: $(STAMP)
	$(BIN)/ruff check hpstudy tests benchmarks
	$(BIN)/lint-imports

# Speed against the peers: the network (bench_nn), then whole studies (bench_study, 3-5 min on
# 2 cores; BENCH_ARGS=--quick for about two)
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_nn.py
	$(BIN)/python benchmarks/bench_study.py $(BENCH_ARGS)

study: $(STAMP)
	$(BIN)/hpstudy study $(EXP) --workers $(WORKERS) $(if $(TRIALS),--trials $(TRIALS))

ui: $(STAMP)
	$(BIN)/hpstudy ui --port $(PORT)

# A team's MLflow tracking server (README, "Scaling out"):
#   make server DB=postgresql://hpstudy@dbhost/mlflow HOST=0.0.0.0
server: $(STAMP)
	$(if $(DB),,$(error make server needs DB=<database URL>, e.g. DB=postgresql://hpstudy@dbhost/mlflow))
	$(BIN)/hpstudy server --backend-store-uri '$(DB)' --host '$(HOST)' --port '$(PORT)'

# The HTML report of STUDY (several: STUDY="a b") in reports/<study>/; the last line printed is
# the path of report.html.
report: $(STAMP)
	$(BIN)/hpstudy report $(STUDY)

gradcheck: $(STAMP)
	$(BIN)/hpstudy gradcheck

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache reports
