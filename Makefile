# smqi-kg: `make build` builds the knowledge graph into build/, `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: build test install clean bench fuzz killtest loadtest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

build: $(STAMP)
	$(BIN)/smqi build --out build

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2   # two workers: this machine has 2 cores

# Issue #8, not part of `make test`: 10,000 fuzzed inputs (hypothesis "fuzz" profile) and 50 SIGKILLs
# of `smqi add`; 1,000 queries over loopback from 8 threads against `smqi serve` in another process.
fuzz: $(STAMP)
	SMQI_HYPOTHESIS_PROFILE=fuzz SMQI_KILLTEST_RUNS=50 $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/cli/test_fuzz.py tests/io/test_atomic.py --hypothesis-show-statistics

killtest: $(STAMP)
	SMQI_KILLTEST_RUNS=50 $(BIN)/python -m pytest -q -s tests/io/test_atomic.py

loadtest: $(STAMP)
	$(BIN)/python benchmarks/loadtest.py --queries 1000 --threads 8

# Benchmark (issue 12), not part of the tests: shipped data against start-up, 10k synthetic studies against the bulk-load floor.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --sizes 10000 --write-readme

clean:
	rm -rf build .pytest_cache
