# macie-audit: build, demo and tests. `make help` lists the targets.

VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: help demo test venv lint lint-deploy clean bench bench-html

help:
	@echo "make demo   scan the bundled demo organization (emulated) and write a run under reports/"
	@echo "make test   run every test (installs the pinned emulator into $(VENV) first)"
	@echo "make lint   cargo fmt --check and clippy with warnings denied"
	@echo "make venv   install the pinned emulator (moto) into $(VENV)"
	@echo "make bench  measure a scan of a generated organization (SIZE=quick|full, LATENCY_MS=100)"
	@echo "make bench-html  measure the HTML report's size and Chromium open time, 22 x 3 against 1,000 x 17"

# The emulator: moto server, pinned, in a project-local virtual environment.
# The template linters (cfn-lint, checkov), pinned in deploy/requirements.txt, go in the same venv.
$(STAMP): tests/emulator/requirements.txt deploy/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/emulator/requirements.txt \
		-r deploy/requirements.txt
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	cargo build --release --quiet
	scripts/demo.sh

test: $(STAMP) lint-deploy
	scripts/ensure-chromium.sh
	cargo test --all-targets
	$(PYTHON) tests/emulator/selfcheck.py

# Every CloudFormation template: cfn-lint with zero errors (warnings shown), and checkov with no
# failed check (each skip is justified in its template). --skip-download: no network needed.
lint-deploy: $(STAMP)
	$(VENV)/bin/cfn-lint --non-zero-exit-code error deploy/*.yaml
	$(VENV)/bin/checkov --directory deploy --framework cloudformation --quiet --compact --skip-download

# A measurement, not a test: SIZE=quick (50 accounts x 4 Regions) or full (1,000 x 17).
SIZE       ?= quick
LATENCY_MS ?= 100
bench: $(STAMP)
	scripts/bench.sh $(SIZE) --latency-ms $(LATENCY_MS) $(BENCH_ARGS)

# A measurement, not a test: the HTML report at 22 accounts x 3 Regions and 1,000 x 17, generated
# (no emulator), rendered by the debug binary (BINARY=target/release/macie-audit for release) and
# opened side by side in headless Chromium; appends a row to BENCHMARKS.md.
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
