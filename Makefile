# Two targets a newcomer needs: `make run` (install, then train and evaluate the default genre model)
# and `make test` (install with the test extras, then run the test suite). Both use a local .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[test,hf]"
	# musicnn ships the pretrained weights backbone=musicnn reads; its declared requirements
	# (TensorFlow 1, numpy < 1.17) are obsolete and unused here, hence --no-deps.
	$(BIN)/python -m pip install --quiet --no-deps "musicnn==0.1.0"
	touch $@

# The Essentia plugin is its own (AGPL-3.0) distribution; the tests install it to test it.
$(BIN)/.installed-plugins: $(BIN)/.installed plugins/mirplug-essentia/pyproject.toml
	$(BIN)/python -m pip install --quiet ./plugins/mirplug-essentia
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/mirplug run task=genre

test: install $(BIN)/.installed-plugins
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs
