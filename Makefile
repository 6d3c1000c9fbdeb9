# Thin aliases. `make test` and `make run` work on a fresh machine: they create .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dev]'
	touch $(STAMP)

# The demo tree is copied fresh to a state directory, so the repository stays clean.
DEMO := .run/demo
run: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(dir $(DEMO)) && cp -R services/demo $(DEMO)
	@echo "svscan on $(DEMO); Ctrl-C stops every service in order. In another terminal:"
	@echo "  $(BIN)/svstat $(DEMO)/* $(DEMO)/clock/log"
	exec $(BIN)/svscan $(DEMO)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

# Measurements, not tests: each benchmarks/TOPIC.py prints its table, writes
# benchmarks/results/TOPIC.md, and exits 0 even when a target is missed. BENCHFLAGS=--rounds=N
BENCHES := clients runtools svscan
DEBS := daemontools runit s6
bench: $(STAMP)
	test -x /usr/bin/svstat && test -x /usr/bin/envdir && test -x /usr/bin/runsvdir && \
		test -x /usr/bin/s6-svscan || apt-get install -y $(DEBS) || \
		{ apt-get update && apt-get install -y $(DEBS); }
	for topic in $(BENCHES); do $(BIN)/python -m benchmarks.$$topic $(BENCHFLAGS) || exit 1; done

clean:
	rm -rf $(VENV) build src/*.egg-info
