# Two commands on a fresh machine: `make run` (the bot) and `make test` (the suite).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc

.PHONY: run test test-postgres bench lint docs clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# The ranking chart needs a CJK font; Debian's WenQuanYi Micro Hei (1.6 MB) when we can install it.
	@test -e $(CJK_FONT) || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
	  && apt-get update -qq && apt-get install -y -qq fonts-wqy-microhei >/dev/null; } \
	  || echo "note: no CJK font; install fonts-wqy-microhei for the ranking chart"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/saima run

test: lint
	$(BIN)/python -m pytest -q

# The whole suite again on a real PostgreSQL: .ci/postgres starts (or reuses) a private cluster on a
# loopback port (Debian's postgresql package provides the binaries) and prints its URL.
test-postgres: $(STAMP)
	url=$$(.ci/postgres) && SAIMA_TEST_POSTGRES_URL=$$url $(BIN)/python -m pytest -q --db=postgresql

lint: $(STAMP)
	$(BIN)/ruff format --check bot bulletins campaign chat handlers scheduler storage web tests benchmarks
	$(BIN)/ruff check bot bulletins campaign chat handlers scheduler storage web tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/rank_speed.py
	$(BIN)/python benchmarks/stream_throughput.py
	$(BIN)/python benchmarks/import_speed.py
	$(BIN)/python benchmarks/startup.py

docs: $(STAMP)
	$(BIN)/saima campaign docs

clean:
	rm -rf $(VENV) data build *.egg-info
