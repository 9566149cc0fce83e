# coursekit: two commands on a fresh clone — `make course` and `make test` (see README.md).
# Each target creates .venv and installs the package with its dev extra when missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.coursekit-installed
NBVAL  := --nbval-lax --nbval-sanitize-with notebooks/nbval_sanitize.cfg --nbval-cell-timeout 300
# The real offline datasets, when ../shared/data is beside the clone (see README).
SHARED := $(abspath ../shared/data)
DATA_ENV := $(if $(wildcard $(SHARED)/README.md),COURSEKIT_DATA=$(SHARED) SCIKIT_LEARN_DATA=$(SHARED)/scikit_learn_data,)

.PHONY: help venv test unit nbval lint course notebooks lab student data clean

help:
	@echo "make course     execute the eleven notebooks -> build/course/ (HTML + index.html)"
	@echo "make test       ruff, unit tests + doctests, then nbval on the notebooks"
	@echo "make lab        open JupyterLab on notebooks/"
	@echo "make student    student versions without solutions -> build/student/"
	@echo "make notebooks  refresh the committed notebooks' outputs in place"
	@echo "make data       download, verify and convert every real dataset into the cache (once)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check coursekit tests benchmarks tools

unit: $(STAMP)
	$(DATA_ENV) MPLBACKEND=Agg $(BIN)/python -m pytest -q

nbval: $(STAMP)
	$(DATA_ENV) MPLBACKEND=Agg $(BIN)/python -m pytest -q $(NBVAL) notebooks/

test: lint unit nbval

course: $(STAMP)
	$(DATA_ENV) $(BIN)/python tools/run_course.py --out build/course

notebooks: $(STAMP)
	$(DATA_ENV) $(BIN)/python tools/run_course.py --inplace

lab: $(STAMP)
	$(DATA_ENV) $(BIN)/jupyter lab notebooks/

student: $(STAMP)
	$(BIN)/coursekit student-version notebooks/ -o build/student/

data: $(STAMP)
	$(BIN)/coursekit data fetch

clean:
	rm -rf build .pytest_cache .ruff_cache
