# The two commands: `make run` (install, then start the daemon on ./data)
# and `make test` (install what the tests need, then run the whole suite).
# Both are idempotent.
PYTHON ?= python3
VENV ?= .venv
DATA ?= data
BIN := $(VENV)/bin

.PHONY: run test install install-test system-deps bench clean

run: install
	$(BIN)/paperfs init $(DATA)
	$(BIN)/paperfs --root $(DATA) run

test: install-test
	$(BIN)/pytest -q -ra

install: system-deps $(VENV)/.installed

install-test: install
	scripts/install-system-deps.sh --test
	solr/install.sh >/dev/null
	@test -f $(VENV)/.installed-test || { $(BIN)/pip install -q -e '.[test]' && touch $(VENV)/.installed-test; }

system-deps:
	scripts/install-system-deps.sh

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	rm -f $(VENV)/.installed-test
	touch $@

bench: install-test
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
