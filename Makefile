# physml: the two set-up commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# Real data for the demo and tests: ../shared/data beside the checkout, unless PHYSML_DATA_DIR is set.
PHYSML_DATA_DIR ?= $(abspath ../shared/data)
export PHYSML_DATA_DIR
PORT ?= 5000
# Commands that tests and `mlflow run` start (physml, mlflow) come from the venv.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install demo test bench server-start server-stop clean

$(BIN)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

## demo: install, start the embedded MLflow server, train linear + GBM + DNN on supercon and the
## Galaxy Zoo CNN, print results and the UI URL
demo: install
	$(BIN)/physml server start --port $(PORT)
	MLFLOW_TRACKING_URI=http://127.0.0.1:$(PORT) $(BIN)/physml supercon train --model all --preset demo
	MLFLOW_TRACKING_URI=http://127.0.0.1:$(PORT) $(BIN)/physml galaxy train --preset demo
	@echo "The server keeps running for the UI; stop it with: make server-stop"

## test: install and run the whole test suite (starts its own servers on free ports)
test: install
	$(BIN)/python -m pytest

## bench: the scripts in benchmarks/ (they measure and print)
bench: install
	$(BIN)/python benchmarks/supercon_dnn_throughput.py --data-dir $(PHYSML_DATA_DIR)/supercon
	$(BIN)/python benchmarks/galaxy_pipeline.py --data-dir $(PHYSML_DATA_DIR)/galaxy_zoo
	$(BIN)/python benchmarks/tune_scaling.py --data-dir $(PHYSML_DATA_DIR)/supercon

server-start: install
	$(BIN)/physml server start --port $(PORT)

server-stop:
	$(BIN)/physml server stop

clean:
	rm -rf $(VENV) .physml .pytest_cache
