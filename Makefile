# `make demo` and `make test` bootstrap .venv themselves on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The extras to install; a GPU machine can run `make demo EXTRAS=gpu`.
EXTRAS ?= cpu

.PHONY: demo test test-jax lint notebooks install peer clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip setuptools wheel

# A stamp per extras set; it is redone when the package metadata changes.
$(VENV)/.installed-%: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e ".[$*]"
	touch $@

install: $(VENV)/.installed-$(EXTRAS)

# The quickstart experiment: synthetic data -> MSASeqLevelModel -> metrics table, plots, exports.
demo: $(VENV)/.installed-$(EXTRAS)
	$(BIN)/msa-tf train configs/quickstart.yaml --overwrite

# Two workers: XLA compiles and graph tracing are mostly single-threaded. `worksteal` keeps
# both busy to the end (the suite has a few long tests). Prints the 15 slowest tests, then
# runs the layer and model tests again on JAX.
test: $(VENV)/.installed-$(EXTRAS),test
	$(BIN)/python -m pytest -n 2 --dist worksteal --durations=15
	$(MAKE) test-jax

# The layer and model tests on the JAX backend (CPU); tests marked `tensorflow_only` skip.
test-jax: $(VENV)/.installed-$(EXTRAS),test
	KERAS_BACKEND=jax $(BIN)/python -m pytest tests/layers tests/models -n 2 --dist worksteal --durations=5

# Lint and import order (ruff, configured in pyproject.toml); .ci/run calls it before the tests.
lint: $(VENV)/.installed-$(EXTRAS),test
	$(BIN)/ruff check .

# Re-executes the notebooks at their full settings and stores them with their outputs and
# plots, so that a reader sees the results on the repository page (a few minutes each).
notebooks: $(VENV)/.installed-$(EXTRAS),test
	$(BIN)/python notebooks/execute.py notebooks/*.ipynb

# The PyTorch peer of benchmarks/bench_peer.py in its own environment: PyTorch for CPUs, what
# importing MMSA's MulT needs, then MMSA itself without its dependencies (benchmarks/peer/README.md).
PEER := benchmarks/peer/.venv

$(PEER)/.installed: benchmarks/peer/requirements.txt
	$(PYTHON) -m venv $(PEER)
	$(PEER)/bin/pip install --upgrade pip
	$(PEER)/bin/pip install -r benchmarks/peer/requirements.txt
	$(PEER)/bin/pip install --no-deps MMSA==2.2.1
	touch $@

peer: $(PEER)/.installed

clean:
	rm -rf $(VENV) $(PEER) build *.egg-info
