# Two commands: `make run` (the app on its demo project) and `make test` (the whole suite, headless).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_RUN := $(VENV)/.installed-gui
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test bench clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml setup.py | $(PY)
	$(PY) -m pip install --quiet -e ".[gui]"
	touch $@

$(STAMP_TEST): pyproject.toml setup.py | $(PY)
	$(PY) -m pip install --quiet -e ".[gui,test]"
	touch $@

run: $(STAMP_RUN)
	@$(PY) main.py --demo

test: $(STAMP_TEST)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: $(STAMP_TEST)
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
