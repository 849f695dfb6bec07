# The two commands: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test serve check lint format system clean

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## make demo: Combine Redshift Catalogs on the bundled sample catalogs (SQLite, local profile)
demo: $(STAMP)
	$(BIN)/pzforge demo

## make serve: the shared site on this directory's registry (pzforge serve + one worker, SQLite)
serve: $(STAMP)
	$(BIN)/pzforge serve --with-worker

## make test: system services (PostgreSQL, SLURM) + the whole test suite
test: $(STAMP)
	bash scripts/system/setup.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n auto --dist loadfile tests

## make check: the fast inner loop - lint + the tests that need no services and no long runs
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -m "not slow and not postgres and not slurm" tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf results logs benchmarks .snakemake pzforge_registry.sqlite
