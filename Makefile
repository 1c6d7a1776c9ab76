# Two commands on a fresh machine: `make demo` and `make test` (each sets up .venv itself).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo test bench clean

demo: $(VENV)/.installed
	$(VENV)/bin/gnc run scenarios/inspection.toml --out runs/demo

test: $(VENV)/.installed-test  # two processes on the 2 cores; the wall-clock tests after them, alone
	$(PY) -m pytest -q -n 2 -m "not slow and not realtime"
	$(PY) -m pytest -q -m "realtime and not slow"

bench: $(VENV)/.installed
	$(VENV)/bin/gnc bench loop --json runs/bench_loop.json

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) runs *.egg-info
