# `make app` and `make test` are all a fresh machine needs: each creates the virtual environment
# and installs what is missing first.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
PORT   ?= 8501

.PHONY: install app test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[app,sweeps,notebooks,dev]'
	touch $(STAMP)

install: $(STAMP)

app: $(STAMP)
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true

test: lint
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench app.py
	$(VENV)/bin/ruff format --check src tests bench app.py
	$(VENV)/bin/codespell

bench: $(STAMP)
	$(PY) bench/engines.py
	$(PY) bench/sweeps.py
	$(PY) bench/app_latency.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
