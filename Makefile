# Two targets a newcomer needs: `make run` (install, then train and evaluate the default genre model)
# and `make test` (install with the test extras, then run the test suite). Both use a local .venv and
# install exactly what requirements/lock.txt says (every package at one version, hash-checked), so a
# fresh machine gets what the tests passed with, whatever was published since. `make lock` regenerates
# the lock from pyproject.toml (see requirements/lock.py).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# uv, not pip, reads these: it downloads in parallel; pip.conf's indexes and caps do not apply
UV_PIP := $(UV) pip --quiet --no-config
UV_TARGET := --python $(BIN)/python

.PHONY: install lock check-lock run test clean

# The installer (uv) and nothing else, with the venv's own pip, hash-checked.
$(BIN)/.bootstrapped: requirements/bootstrap.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r requirements/bootstrap.txt
	touch $@

# Exactly the lock (sync removes what it does not list), compiled to bytecode at install (uv does not by
# default; with PYTHONDONTWRITEBYTECODE set, every process would compile torch and scikit-learn again:
# importing them took 20 s of CPU, 8 s compiled), then the packages installed without their declared requirements, then mirplug itself from the working tree, built offline by the locked setuptools.
$(BIN)/.installed: $(BIN)/.bootstrapped requirements/lock.txt requirements/no-deps.txt pyproject.toml
	$(UV_PIP) sync $(UV_TARGET) --require-hashes --compile-bytecode requirements/lock.txt
	$(UV_PIP) install $(UV_TARGET) --no-deps --require-hashes --compile-bytecode -r requirements/no-deps.txt
	$(UV_PIP) install $(UV_TARGET) --no-deps --no-build-isolation --no-index -e .
	touch $@

# The Essentia plugin (AGPL-3.0), the pretrained backbones and the experiment trackers (MIT) are
# distributions of their own; the tests install them to test them (their requirements are in the lock).
$(BIN)/.installed-plugins: $(BIN)/.installed plugins/mirplug-essentia/pyproject.toml \
		plugins/mirplug-pretrained/pyproject.toml plugins/mirplug-tensorboard/pyproject.toml \
		plugins/mirplug-mlflow/pyproject.toml
	$(UV_PIP) install $(UV_TARGET) --no-deps --no-build-isolation --no-index ./plugins/mirplug-essentia
	$(UV_PIP) install $(UV_TARGET) --no-deps --no-build-isolation --no-index -e ./plugins/mirplug-pretrained
	$(UV_PIP) install $(UV_TARGET) --no-deps --no-build-isolation --no-index -e ./plugins/mirplug-tensorboard
	$(UV_PIP) install $(UV_TARGET) --no-deps --no-build-isolation --no-index -e ./plugins/mirplug-mlflow
	touch $@

install: $(BIN)/.installed

# Re-resolve from pyproject.toml and requirements/*.in (needs the package index; same result when
# nothing changed, since only releases before requirements/lock.py's EXCLUDE_NEWER are considered).
lock: $(BIN)/.bootstrapped
	$(BIN)/python requirements/lock.py --uv $(UV)

check-lock: $(BIN)/.bootstrapped
	$(BIN)/python requirements/lock.py --check

run: install
	$(BIN)/mirplug run task=genre

# pytest-xdist: the tests run one thread each (tests/conftest.py), so one worker per core, at most 4
test: check-lock install $(BIN)/.installed-plugins
	$(BIN)/python -m pytest -n auto --maxprocesses 4

clean:
	rm -rf $(VENV) runs
