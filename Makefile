# Thin aliases. `make test` and `make run` work on a fresh machine: they create .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck floors install uninstall bench soak clean

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
	@echo "  $(BIN)/tai64nlocal < $(DEMO)/clock/log/main/current"
	exec env PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/svscan $(DEMO)  # svlog for clock/log

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

# A system-wide install (see README, "Installing"): a venv readable by every user in
# PREFIX/lib/trio-supervise, made by a system interpreter, its commands linked into PREFIX/bin
# and its man pages into PREFIX/share/man/man8. Refuses to replace a file that is not its own.
PREFIX ?= /usr/local
INSTALL_PYTHON ?= /usr/bin/python3
install:
	sh packaging/install.sh install $(PREFIX) $(INSTALL_PYTHON) .

uninstall:
	sh packaging/install.sh uninstall $(PREFIX)

# The package at its floors: the lowest setuptools, trio and attrs pyproject.toml allows
# (constraints/floors.txt), in a venv of their own. Builds the wheel and the sdist with that
# setuptools and no build isolation, checks what they carry (.ci/check_dist.py), installs the
# project the same way, and runs the unit tests on those trio and attrs (src first on the path:
# some tests read the source tree). .ci/run runs it after `make test`.
FLOORS := $(VENV)/floors
floors:
	rm -rf $(FLOORS) && $(PYTHON) -m venv $(FLOORS)
	$(FLOORS)/bin/pip install -q -c constraints/floors.txt setuptools
	$(FLOORS)/bin/pip wheel -q --no-build-isolation --no-deps -w $(FLOORS)/dist .
	$(FLOORS)/bin/python -c 'from setuptools import build_meta as b; b.build_sdist("$(FLOORS)/dist")'
	$(FLOORS)/bin/python .ci/check_dist.py $(FLOORS)/dist
	$(FLOORS)/bin/pip install -q --no-build-isolation -c constraints/floors.txt '.[test]'
	$(FLOORS)/bin/pip list 2>/dev/null | grep -E '^(setuptools|trio|attrs) '
	PYTHONPATH=src $(FLOORS)/bin/python -m pytest -q -p no:cacheprovider tests/unit

# Measurements, not tests: each benchmarks/TOPIC.py prints its table, writes
# benchmarks/results/TOPIC.md, and exits 0 even when a target is missed; then
# benchmarks/report.py writes docs/benchmarks.md and its plots from svscan's samples.
# Installs what it measures: Debian's daemontools, runit and s6, supervisor (PyPI) in a venv
# of its own, matplotlib for the plots (the `bench` extra; without it, no plots).
# BENCHFLAGS=--rounds=N goes to every topic. QUICK=1: a few minutes' check of the whole path
# (svscan --quick, 5 rounds elsewhere), written to $(QUICKDIR), never over the results.
BENCHES := clients runtools svscan startup svlog
DEBS := daemontools runit s6
SUPERVISOR := $(VENV)/supervisor
QUICKDIR := $(VENV)/bench-quick
bench: $(STAMP)
	test -x /usr/bin/svstat && test -x /usr/bin/envdir && test -x /usr/bin/runsvdir && \
		test -x /usr/bin/s6-svscan || apt-get install -y $(DEBS) || \
		{ apt-get update && apt-get install -y $(DEBS); }
	test -x $(SUPERVISOR)/bin/supervisord || \
		{ $(PYTHON) -m venv $(SUPERVISOR) && $(SUPERVISOR)/bin/pip install -q supervisor; }
	$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/pip install -q -e '.[bench]' || \
		echo "matplotlib could not be installed: docs/benchmarks.md will have no plots"
	for topic in $(BENCHES); do \
		if [ -n "$(QUICK)" ]; then mkdir -p $(QUICKDIR); \
			case $$topic in svscan) quick="--quick --data $(QUICKDIR)/svscan.json";; \
				*) quick=--rounds=5;; esac; \
			quick="$$quick --output $(QUICKDIR)/$$topic.md"; \
		else quick=; fi; \
		$(BIN)/python -m benchmarks.$$topic $$quick $(BENCHFLAGS) || exit 1; done
	$(BIN)/python -m benchmarks.report $(if $(QUICK),--data $(QUICKDIR)/svscan.json \
		--output $(QUICKDIR)/benchmarks.md)

# Long reliability runs (100 SIGHUPs under load, kill -9 at 1000 services, a crash loop
# beside a good service): writes docs/reliability.md. Minutes, not part of `make test`.
# Then a control FIFO flooded with 1 MiB of garbage beside a service getting `d` every
# 100 ms (benchmarks/flood.py): its own section of docs/reliability.md.
soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak $(SOAKFLAGS)
	$(BIN)/python -m benchmarks.flood

clean:
	rm -rf $(VENV) build src/*.egg-info
