# Two targets a newcomer needs: `make run` (install, then train and evaluate the default genre model)
# and `make test` (install with the test extras, then run the test suite). Both use a local .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/mirplug run task=genre

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs
