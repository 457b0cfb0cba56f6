# Only Python 3.11+ and make are needed: everything else lands in .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BROWSER_STAMP := $(VENV)/.browser

.PHONY: run test lint fuzz bench clean install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests (tests/e2e) drive Debian's chromium: install it when missing and we can (root with
# apt-get). A failure is tolerated, those tests then skip with the reason; `rm $(BROWSER_STAMP)` retries.
$(BROWSER_STAMP): $(STAMP)
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium for the browser tests (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq chromium >/dev/null 2>&1 \
		|| (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1) \
		|| echo "chromium could not be installed: the browser tests will be skipped"; \
	fi
	@touch $(BROWSER_STAMP)

run: $(STAMP)
	$(BIN)/atp run

# The suite runs under coverage.py (subprocesses included, see [tool.coverage] in pyproject.toml); the
# per-file table lands in .data/coverage/report.txt, the total is printed before pytest's closing line.
test: $(STAMP) $(BROWSER_STAMP)
	@rm -rf .data/coverage && mkdir -p .data/coverage
	@set -o pipefail; $(BIN)/coverage run -m pytest $(PYTEST_ARGS) 2>&1 | tee .data/coverage/pytest.log; \
	status=$$?; \
	$(BIN)/coverage combine -q >/dev/null 2>&1; \
	$(BIN)/coverage report > .data/coverage/report.txt 2>&1 && \
		echo "line coverage: $$(awk '/^TOTAL/ {print $$NF}' .data/coverage/report.txt) (per file: .data/coverage/report.txt)"; \
	grep -E '(passed|failed|errors?|skipped)( [^ ]+)* in [0-9.]+s' .data/coverage/pytest.log | tail -n 1; \
	exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fuzz: $(STAMP)
	ATP_FUZZ_EXAMPLES=$${ATP_FUZZ_EXAMPLES:-100} $(BIN)/python -m pytest tests/test_fuzz.py -s

clean:
	rm -rf .data
