# Every target bootstraps .venv itself: a fresh clone needs only python3 (>= 3.11) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime

.PHONY: demo test lint wheel-check bench kube clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(RUNTIME)

# ecrgc and its runtime dependencies only: what `make demo` needs (a dev install satisfies it too).
$(RUNTIME): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

demo: $(RUNTIME)  ## plan and apply against the embedded sample registry: no AWS account needed
	$(BIN)/ecrgc demo

kube:  ## build (once, cached outside the repo) the kube-apiserver and etcd the tests start
	tests/kube/build-apiserver.sh

test: $(STAMP) kube  ## the whole test suite, as CI runs it
	ECRGC_KUBE_BIN=$$(tests/kube/build-apiserver.sh) $(BIN)/python -m pytest -q -n 2 --cov --cov-report=term:skip-covered

lint: $(STAMP)  ## ruff, ruff format, mypy --strict, ecrgc validate, actionlint and zizmor (offline)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict
	$(BIN)/lint-imports
	$(BIN)/ecrgc validate policies/ plans/
	$(BIN)/actionlint .github/workflows/*.yml
	$(BIN)/zizmor --offline --no-progress .

wheel-check: $(STAMP)  ## build sdist and wheel, twine check them, run the wheel from a fresh venv
	PYTHON=$(PYTHON) .ci/wheel-check

bench: $(STAMP)  ## benchmarks: they measure and report, never assert times
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
