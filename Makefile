# The README's two commands. Each works on a fresh machine with only Python 3 and root:
# it creates .venv, installs the project with its dev extras, installs Graphviz's `dot`
# when it is missing, then runs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test matrix bench notebooks reference graphviz clean

demo: $(STAMP) graphviz
	$(PY) examples/digits.py

test: $(STAMP) graphviz
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

# The supported range, tested at its corners (noxfile.py): the oldest Python with the oldest numpy,
# the newest Python with the newest numpy; each in its own virtual environment under .nox/.
matrix: $(STAMP)
	$(VENV)/bin/nox $(NOX_ARGS)

# Installs the missing peers (the bench extra) itself; e.g. make bench BENCH_ARGS="--json out/bench.json mlp-mnist"
bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)

notebooks: $(STAMP) graphviz
	$(PY) notebooks/execute.py

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Graphviz (dot) with apt-get..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else \
	    echo "Graphviz's 'dot' is missing and cannot be installed here (needs root and apt-get)."; \
	    echo "Install it yourself: 'sudo apt-get install graphviz' (Debian/Ubuntu) or 'brew install graphviz' (macOS)."; \
	    echo "Without it, graphs still give their DOT source, and tests that render are skipped."; \
	  fi; }

clean:
	rm -rf $(VENV) .nox out .pytest_cache

# The files made from the op catalogue: docs/ops.md and autodiff/tensor.pyi (a test checks they are current)
reference: $(STAMP)
	$(PY) docs/make_reference.py
