# The two commands of the README: `make lab` starts the course, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Extra arguments for JupyterLab, e.g. make lab LAB_ARGS="--port 8890 --no-browser"
LAB_ARGS ?=
# JupyterLab refuses to run as root unless told (containers, CI)
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test install release selftest bench clean

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

release: $(STAMP)
	$(BIN)/python -m autograder release

selftest: $(STAMP)
	$(BIN)/python -m autograder selftest

bench: $(STAMP)
	$(BIN)/python bench/grading_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache
