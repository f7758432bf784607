# Klaxon: `make run` starts the service, `make test` runs the tests. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
PYTEST_ARGS ?=
# pytest-xdist workers: four on this 2-core machine, as many tests wait on sockets, subprocesses
# and timers (quiet machine, whole suite on SQLite: 338 s with 2 and 281 s with 3 on 2 Dec 2026;
# later that day 220 s with 3 and 193 s with 4, both cores then ~93 % busy: more would not help)
TEST_JOBS ?= 4
# Python caches compiled modules (__pycache__/, git-ignored): with PYTHONDONTWRITEBYTECODE set, as
# some machines set it, every process Klaxon and its tests start compiles Klaxon's code again
# (~0.2 s of CPU each, and the suite starts a few hundred).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test install install-test browser clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(VENV)/bin/klaxon serve

test: install-test
	$(PY) -m pytest -q -n $(TEST_JOBS) --dist worksteal $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) data tests/artifacts
