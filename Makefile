# macie-audit: build, demo and tests. `make help` lists the targets.

VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: help demo test venv lint clean bench bench-html

help:
	@echo "make demo   scan the bundled demo organization (emulated) and write a run under reports/"
	@echo "make test   run every test (installs the pinned emulator into $(VENV) first)"
	@echo "make lint   cargo fmt --check and clippy with warnings denied"
	@echo "make venv   install the pinned emulator (moto) into $(VENV)"
	@echo "make bench  measure a scan of a generated organization (SIZE=quick|full, LATENCY_MS=100)"
	@echo "make bench-html  measure the HTML report's size and Chromium open time, 22 x 3 against 1,000 x 17"

# The emulator: moto server, pinned, in a project-local virtual environment.
$(STAMP): tests/emulator/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/emulator/requirements.txt
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	cargo build --release --quiet
	scripts/demo.sh

test: $(STAMP)
	scripts/ensure-chromium.sh
	cargo test --all-targets
	$(PYTHON) tests/emulator/selfcheck.py

# A measurement, not a test: SIZE=quick (50 accounts x 4 Regions) or full (1,000 x 17); the
# row carries the scan's HTML report size and its Chromium open time over a 22 x 3 run's.
SIZE       ?= quick
LATENCY_MS ?= 100
bench: $(STAMP)
	scripts/ensure-chromium.sh
	scripts/bench.sh $(SIZE) --latency-ms $(LATENCY_MS) $(BENCH_ARGS)

# A measurement, not a test: the HTML report at 22 accounts x 3 Regions and 1,000 x 17, generated
# (no emulator), rendered by the debug binary (BINARY=target/release/macie-audit for release) and
# opened side by side in headless Chromium; adds a row to BENCHMARKS.md's HTML table.
BINARY ?= target/debug/macie-audit
bench-html:
	scripts/ensure-chromium.sh
	cargo build $(if $(findstring release,$(BINARY)),--release) --quiet
	python3 bench/html.py --binary $(BINARY) $(BENCH_ARGS)

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

clean:
	cargo clean
	rm -rf $(VENV)
