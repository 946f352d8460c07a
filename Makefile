# smqi-kg: `make build` builds the knowledge graph into build/, `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: build test install clean bench

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
	$(BIN)/python -m pytest -q

# Scale benchmark (issue #6), not part of the tests: 1k and 10k synthetic studies, both engines.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --sizes 1000,10000 --write-readme

clean:
	rm -rf build .pytest_cache
