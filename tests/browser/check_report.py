#!/usr/bin/env python3
"""Opens report.html and its account pages from disk in headless Chromium with the network disabled.

Python standard library only (and poppler's pdftotext for the printed text): Chromium is driven
through the DevTools protocol over --remote-debugging-pipe (NUL-separated JSON on file descriptors
3 and 4), so there is nothing to install but Debian's chromium and poppler-utils packages
(scripts/ensure-chromium.sh).

    check_report.py REPORT.html --artifacts DIR [--expect-total N] [--expect-fail N]
                    [--expect-pass N] [--hostile TEXT]... [--chromium PATH] [--label NAME]
                    [--sample N]

Prints one JSON object on stdout: {"ok": bool, "failures": [...], "facts": {...}, "artifacts": [...]}
and exits 0 when every check passed, 1 when one failed, 2 when the browser could not be driven.

Checks on the summary: it loads from file:// with no console error, no uncaught exception, no
dialog and no request but the report's own pages; its counts and charts show; the matrix fits
1,400px, lists at most the 50 worst accounts, all of them needing attention, and its filters
(FAIL, ERROR, OU, name or id, an account beyond the matrix found in the whole organization) work;
every page it links to exists and following an account opens its page; printed to PDF, the table
of accounts not evaluated keeps its columns, the matrix starts within two pages and no page is
blank. On the first OU's page, opened from the summary: the accounts that need attention show by
default, "all" and "need nothing" work, the scope table lists every account, no link dangles, and
printed its scope table keeps its columns; every OU page (from ous/index.html) lists each account
once. On the account pages (every one, or --sample problem accounts): the rows add up to the
expected counts; no link dangles; on one with FAIL and PASS rows the status, rule, Region and
severity filters work, an evidence link opens its collapsed section, collapsed evidence prints
open and the filter form does not, and the PDF has an aws command unbroken (wrapped at spaces
only). Artefacts (NAME- prefixed): screenshots of the summary, its matrix, an OU page and an
account page, and each printed to PDF.
"""

import argparse
import base64
import fcntl
import json
import os
import pathlib
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--metrics-recording-only",
    "--mute-audio",
    # Network disabled: nothing resolves, and anything that tried would go to a dead proxy.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--remote-debugging-pipe",
    "--window-size=1400,1000",
]


class BrowserError(Exception):
    """The browser could not be driven (not a check failure)."""


class Chromium:
    """A headless Chromium driven over the DevTools pipe."""

    def __init__(self, executable, timeout=60.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="macie-audit-chromium-")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # Above 10 so that placing them on 3 and 4 in the child cannot clobber one another.
        high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def child_fds():
            os.dup2(high_r, 3)  # the browser reads commands on 3
            os.dup2(high_w, 4)  # and writes answers on 4

        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            close_fds=False,
            preexec_fn=child_fds,
        )
        os.close(high_r)
        os.close(high_w)
        self.writer = to_browser_w
        self.reader = from_browser_r
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.session = None

    # -- protocol ---------------------------------------------------------------------------
    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError("timed out waiting for the browser")
            ready, _, _ = select.select([self.reader], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.reader, 1 << 20)
            if not chunk:
                raise BrowserError("the browser closed the DevTools pipe" + self._stderr_tail())
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def _stderr_tail(self):
        try:
            self.stderr.seek(0)
            text = self.stderr.read().decode("utf-8", "replace").strip()
            return (": " + text[-2000:]) if text else ""
        except OSError:
            return ""

    def call(self, method, params=None, session=True, timeout=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.writer, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self.events.append(answer)

    def wait_for(self, method, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        seen = len(self.events)
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method:
                    return event
            seen = len(self.events)
            self.events.append(self._read_message(deadline))

    def pump(self, seconds):
        """Collects events for a while (late console messages, requests)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except BrowserError:
            pass

    def evaluate(self, expression):
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"evaluation failed: {json.dumps(result['exceptionDetails'])[:800]}")
        return result.get("result", {}).get("value")

    # -- lifecycle --------------------------------------------------------------------------
    def open_page(self):
        targets = self.call("Target.getTargets", session=False)["targetInfos"]
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            target = pages[0]["targetId"]
        else:
            target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call(
            "Target.attachToTarget", {"targetId": target, "flatten": True}, session=False
        )["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            self.call(domain)
        self.call(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        # Dialogs would block the page: record them (a hostile string that ran would open one).
        self.call(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": "window.__dialogs = []; window.alert = window.confirm = window.prompt ="
                       " function (m) { window.__dialogs.push(String(m)); };"},
        )

    def close(self):
        try:
            if self.process.poll() is None:
                try:
                    self.call("Browser.close", session=False, timeout=5)
                except (BrowserError, OSError):
                    pass
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            for fd in (self.writer, self.reader):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)


# JavaScript helpers evaluated in the page.
HELPERS = r"""
window.__t = {
  rows: function () { return Array.prototype.slice.call(document.querySelectorAll('section.acct tr[data-s]')); },
  shown: function (el) { return !el.closest('[hidden]'); },
  laidOut: function (el) { return el.checkVisibility ? el.checkVisibility() : el.getClientRects().length > 0; },
  set: function (id, value) {
    var s = document.getElementById(id); s.value = value;
    s.dispatchEvent(new Event('change', {bubbles: true}));
  },
  clear: function () { document.getElementById('filters').reset(); window.__t.set('f-status', ''); },
  search: function (text) {
    var s = document.getElementById('m-search'); s.value = text;
    s.dispatchEvent(new Event('input', {bubbles: true}));
  },
  matrix: function () {
    var rows = Array.prototype.slice.call(document.querySelectorAll('table.matrix tr[data-a]'));
    var shown = rows.filter(window.__t.shown);
    return {
      total: rows.length, shown: shown.length,
      attention: rows.filter(function (r) { return ['ERROR', 'FAIL', 'WARN'].indexOf(r.getAttribute('data-w')) !== -1; }).length,
      shownWorst: shown.map(function (r) { return r.getAttribute('data-w'); }),
      shownSeverity: shown.map(function (r) { return r.getAttribute('data-v'); }),
      shownOus: Array.from(new Set(shown.map(function (r) { return r.closest('tbody').getAttribute('data-o'); }))),
      result: (document.getElementById('m-result') || {}).textContent || ''
    };
  },
  summary: function () {
    var rows = window.__t.rows();
    var shown = rows.filter(window.__t.shown);
    var by = function (list, attr) {
      var out = {}; list.forEach(function (r) { var k = r.getAttribute(attr); out[k] = (out[k] || 0) + 1; }); return out;
    };
    return {
      total: rows.length, shown: shown.length,
      shownByStatus: by(shown, 'data-s'),
      shownAccounts: Array.from(new Set(shown.map(function (r) { return r.closest('section.acct').getAttribute('data-a'); }))),
      shownRules: Array.from(new Set(shown.map(function (r) { return r.getAttribute('data-r'); }))),
      shownRegions: Array.from(new Set(shown.map(function (r) { return r.getAttribute('data-g'); }))),
      result: (document.getElementById('f-result') || {}).textContent || ''
    };
  }
};
true
"""

# The summary's matrix lists at most this many accounts (src/report/html.rs, SUMMARY_ACCOUNTS).
SUMMARY_ACCOUNTS = 50

# Links to other pages of the run (anchors stripped later).
LINKS = ("Array.prototype.map.call(document.querySelectorAll('a[href]'), function (a) { return a.getAttribute('href'); })"
         ".filter(function (h) { return h.charAt(0) !== '#'; })")

# Links to anchors of the page that has none of that id.
DANGLING = ("Array.prototype.filter.call(document.querySelectorAll('a[href^=\"#\"]'), function (a) {"
            " return a.getAttribute('href').length > 1 && !document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1))); })"
            ".map(function (a) { return a.getAttribute('href'); }).slice(0, 10)")


def load(browser, path, width=1400):
    browser.call("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
    browser.call("Page.navigate", {"url": pathlib.Path(path).resolve().as_uri()})
    browser.wait_for("Page.loadEventFired", timeout=300)
    browser.pump(0.3)
    browser.evaluate(HELPERS)


def pdf_text(pdf_path, failures):
    """The text of each page of a PDF (poppler's pdftotext), or None without poppler."""
    if not shutil.which("pdftotext"):
        failures.append("pdftotext is missing: apt-get install poppler-utils (scripts/ensure-chromium.sh)")
        return None
    text = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True,
                          text=True, check=True).stdout
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


def print_pdf(browser, path, artifacts):
    pdf = browser.call("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True}, timeout=300)
    path.write_bytes(base64.b64decode(pdf["data"]))
    artifacts.append(str(path))
    return path


def run_checks(browser, report, args):
    failures = []
    facts = {}
    artifacts = []
    prefix = f"{args.label}-" if args.label else ""

    def check(condition, message):
        if not condition:
            failures.append(message)
        return condition

    visited = []

    def visit(path):
        visited.append(pathlib.Path(path).resolve().as_uri())
        load(browser, path)

    # -- The summary ---------------------------------------------------------------------------
    started = time.monotonic()
    visit(report)
    facts["summary_load_s"] = round(time.monotonic() - started, 3)
    facts["title"] = browser.evaluate("document.title")
    check(browser.evaluate("document.documentElement.lang") == "en", "<html lang> is not 'en'")
    for section in ("summary", "matrix", "rules", "scope", "evidence"):
        check(browser.evaluate(f"!!document.getElementById('{section}')"), f"section #{section} is missing")
    check(browser.evaluate("window.__t.laidOut(document.querySelector('#summary .tiles'))"),
          "the summary's counts are not visible")
    check(browser.evaluate("!document.getElementById('m-filters').hidden"),
          "the matrix filters did not appear: the script did not run")
    check(browser.evaluate("document.querySelectorAll('img, iframe, object, embed, link[href]').length") == 0,
          "the page has an img/iframe/object/embed/link element")
    check(browser.evaluate("document.querySelectorAll('svg').length") >= 3, "the charts are missing")
    body_text = browser.evaluate("document.body.textContent")
    for text in args.hostile:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        check(text in body_text, f"hostile string not shown as text: {text[:80]!r}")
    overflow = browser.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    facts["horizontal_overflow_px"] = overflow
    check(overflow <= 1, f"the summary scrolls sideways by {overflow}px")
    matrix = browser.evaluate(
        "(function () { var t = document.querySelector('table.matrix'); var r = t.getBoundingClientRect();"
        " return { right: r.right, width: window.innerWidth, regions: t.querySelectorAll('thead th.rg').length }; })()")
    facts["matrix"] = matrix
    check(matrix["right"] <= matrix["width"],
          f"the matrix ({matrix['regions']} Regions) is wider than the 1,400px screen: {matrix['right']}px")
    browser.call("Emulation.setDeviceMetricsOverride",
                 {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    narrow = browser.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    facts["horizontal_overflow_narrow_px"] = narrow
    check(narrow <= 1, f"on a 390px screen the summary scrolls sideways by {narrow}px")
    browser.call("Emulation.setDeviceMetricsOverride",
                 {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
    screenshot(browser, args.artifacts / f"{prefix}report-top.png", artifacts)
    browser.evaluate("document.getElementById('matrix').scrollIntoView()")
    screenshot(browser, args.artifacts / f"{prefix}report-matrix.png", artifacts)

    # The summary's matrix: the worst accounts that need attention, then each filter.
    m = browser.evaluate("window.__t.matrix()")
    facts["matrix_default"] = {"shown": m["shown"], "total": m["total"], "result": m["result"]}
    check(m["shown"] == m["attention"] == m["total"],
          f"the summary's matrix shows {m['shown']} of {m['total']} rows, {m['attention']} need attention")
    check(m["total"] <= SUMMARY_ACCOUNTS, f"the summary's matrix lists {m['total']} accounts")
    check(all(w in ("ERROR", "FAIL", "WARN") for w in m["shownWorst"]),
          f"the summary's matrix shows accounts that need nothing: {m['shownWorst']}")
    browser.evaluate("window.__t.set('m-show', 'FAIL')")
    failing = browser.evaluate("window.__t.matrix()")
    check(all(v != "" for v in failing["shownSeverity"]),
          f"'with a FAIL' shows accounts without a FAIL: {failing['shownSeverity'][:10]}")
    browser.evaluate("window.__t.set('m-show', 'ERROR')")
    erring = browser.evaluate("window.__t.matrix()")
    check(all(w == "ERROR" for w in erring["shownWorst"]), f"'with an ERROR' shows {erring['shownWorst'][:10]}")
    first_ou = browser.evaluate("document.querySelector('#m-ou option[value]:not([value=\"\"])').value")
    browser.evaluate(f"window.__t.set('m-show', 'attention'); window.__t.set('m-ou', {json.dumps(first_ou)})")
    ou = browser.evaluate("window.__t.matrix()")
    check(ou["shownOus"] == [first_ou] and ou["shown"] > 0, f"the OU filter shows OUs {ou['shownOus']}")
    one = browser.evaluate("document.querySelector('table.matrix tr[data-a] .id').textContent")
    browser.evaluate(f"window.__t.set('m-ou', ''); window.__t.search({json.dumps(one)})")
    found = browser.evaluate("window.__t.matrix()")
    check(found["shown"] == 1, f"searching for account {one} shows {found['shown']} accounts")
    # An account the matrix does not list is found in the whole organization, with its page.
    other = browser.evaluate(
        "(function () { var shown = {}; document.querySelectorAll('table.matrix tr[data-a]').forEach(function (r) {"
        " shown[r.getAttribute('data-a')] = true; });"
        " var all = JSON.parse(document.getElementById('report-data').textContent).accounts;"
        " var a = all.filter(function (a) { return !shown[String(a[0])]; })[0]; return a ? [a[1], a[3]] : null; })()")
    if other is not None:
        browser.evaluate(f"window.__t.search({json.dumps(other[0])})")
        hits = browser.evaluate(
            "Array.prototype.map.call(document.querySelectorAll('#m-found-list a'), function (a) { return a.getAttribute('href'); })")
        facts["found_beyond_matrix"] = hits
        check(hits == [other[1]] and browser.evaluate("!document.getElementById('m-found').hidden"),
              f"searching for {other[0]}, not in the matrix, lists {hits}")
        check((pathlib.Path(report).resolve().parent / other[1]).is_file(), f"{other[1]} is missing")
    browser.evaluate("document.getElementById('m-filters').reset()")
    browser.pump(0.2)
    back = browser.evaluate("window.__t.matrix()")
    check(back["shown"] == m["shown"], "resetting the matrix filters does not restore the default")
    check(browser.evaluate("document.getElementById('m-found').hidden"), "the search's list stays after a reset")

    base_dir = pathlib.Path(report).resolve().parent
    dangling = browser.evaluate(DANGLING)
    check(not dangling, f"summary links to missing anchors: {dangling}")
    missing = [h for h in browser.evaluate(LINKS) if not (base_dir / h.split("#")[0]).is_file()]
    check(not missing, f"the summary links to missing pages: {missing[:5]}")
    first_problem = browser.evaluate(
        "(function () { var a = document.querySelector('table.matrix tr[data-a]:not([hidden]) th a');"
        " return a ? a.getAttribute('href') : null; })()")
    if check(first_problem is not None, "no account needs attention: nothing to follow"):
        browser.evaluate(f"document.querySelector('table.matrix a[href={json.dumps(first_problem)}]').click()")
        browser.wait_for("Page.loadEventFired", timeout=120)
        visited.append((base_dir / first_problem).as_uri())
        browser.pump(0.3)
        check(browser.evaluate("location.href") == (base_dir / first_problem).as_uri(),
              "following an account from the summary does not open its page")
        check(browser.evaluate("document.querySelectorAll('#findings tr[data-s]').length") > 0,
              "the account page opened from the summary has no finding")

    # Print the summary: its text has the columns of the table of accounts not evaluated, the
    # page count is known, no page is blank, the executive summary takes at most two pages.
    visit(report)
    summary_pdf = print_pdf(browser, args.artifacts / f"{prefix}report.pdf", artifacts)
    summary_pages = pdf_text(summary_pdf, failures)
    if summary_pages is not None:
        facts["summary_pdf_pages"] = len(summary_pages)
        blank = [i + 1 for i, page in enumerate(summary_pages) if not page.strip()]
        check(not blank, f"blank pages in the printed summary: {blank}")
        scope_columns(check, summary_pages, "Accounts not evaluated", "the printed summary")
        executive = next((i for i, p in enumerate(summary_pages) if "Accounts that need attention" in p
                          and "Worst status per account" in p), None)
        facts["matrix_starts_on_pdf_page"] = None if executive is None else executive + 1
        check(executive is not None and executive <= 2,
              f"the executive summary is longer than two pages (the matrix starts on page {executive and executive + 1})")

    # -- OU pages: every account of the run is on one, reached from the summary -----------------
    pages = ou_checks(browser, base_dir, check, facts, artifacts, args, prefix, visit)
    facts["account_pages"] = len(pages)
    missing = [href for href, _ in pages if not (base_dir / href).is_file()]
    check(not missing, f"account pages linked from the OU pages are missing: {missing[:5]}")

    # -- Account pages -------------------------------------------------------------------------
    targets = [href for href, _ in pages]
    if args.sample:
        # Accounts with a FAIL first: an ERROR account (not reached) has nothing to filter.
        problem = ([href for href, worst in pages if worst == "FAIL"]
                   + [href for href, worst in pages if worst in ("ERROR", "WARN")])
        targets = sorted(set(problem[:args.sample] + targets[:1]))
    totals = {}
    rows_seen = 0
    chosen = None
    for href in targets:
        visit(base_dir / href)
        base = browser.evaluate("window.__t.summary()")
        rows_seen += base["total"]
        for status, n in base["shownByStatus"].items():
            totals[status] = totals.get(status, 0) + n
        check(base["shown"] == base["total"], f"{href}: without filters {base['shown']} of {base['total']} rows show")
        dangling = browser.evaluate(DANGLING)
        check(not dangling, f"{href}: links to missing anchors: {dangling}")
        siblings = browser.evaluate(
            "Array.prototype.map.call(document.querySelectorAll('a[href]'), function (a) { return a.getAttribute('href'); })"
            ".filter(function (h) { return h.charAt(0) !== '#'; })")
        absent = [h for h in siblings if not (base_dir / href).parent.joinpath(h.split('#')[0]).resolve().is_file()]
        check(not absent, f"{href}: links to missing pages: {absent[:5]}")
        if chosen is None and base["shownByStatus"].get("FAIL") and base["shownByStatus"].get("PASS"):
            chosen = href
    facts["account_rows"] = rows_seen
    if not args.sample:
        if args.expect_total is not None:
            check(rows_seen == args.expect_total, f"the account pages have {rows_seen} rows, expected {args.expect_total}")
        if args.expect_fail is not None:
            check(totals.get("FAIL", 0) == args.expect_fail, f"FAIL rows: {totals.get('FAIL', 0)}, expected {args.expect_fail}")
        if args.expect_pass is not None:
            check(totals.get("PASS", 0) == args.expect_pass, f"PASS rows: {totals.get('PASS', 0)}, expected {args.expect_pass}")
    if check(chosen is not None, "no account page has both FAIL and PASS rows to filter on"):
        account_checks(browser, base_dir / chosen, check, facts, artifacts, args, prefix, visit)

    # Nothing ran that should not have; nothing was fetched; nothing complained.
    browser.pump(0.3)
    errors, requests = [], []
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            errors.append("console." + params["type"] + ": " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append("exception: " + str(details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            entry = params["entry"]
            errors.append(f"log {entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            requests.append(params.get("request", {}).get("url", ""))
        elif method == "Page.javascriptDialogOpening":
            errors.append("dialog: " + params.get("message", ""))
    facts["requests"] = len(requests)
    check(not errors, f"console errors: {errors[:10]}")
    foreign = [r for r in requests if r not in visited]
    check(not foreign, f"network requests besides the report's own pages: {foreign[:10]}")
    return failures, facts, artifacts


def scope_columns(check, pdf_pages, caption, what):
    """The printed scope table under `caption` keeps every column."""
    pages = [p for p in pdf_pages if caption in p]
    if check(pages, f"{what} has no table '{caption}'"):
        for column in ("Role assumed", "Identity", "Outcome", "Reason"):
            check(any(column in p for p in pages), f"{what}: the scope table lost its {column} column")


def ou_checks(browser, base_dir, check, facts, artifacts, args, prefix, visit):
    """The OU pages: the first OU of the summary's matrix, opened from it, shows the accounts that
    need attention by default and every account with "all"; it links only to pages that exist;
    printed, its scope table keeps its columns. Then every OU page, from ous/index.html: returns
    the (account page, worst status) of every account they list, each once."""
    visit(base_dir / "report.html")
    ou_href = browser.evaluate("document.querySelector('table.matrix tr.ou a').getAttribute('href')")
    browser.evaluate(f"document.querySelector('table.matrix tr.ou a[href={json.dumps(ou_href)}]').click()")
    browser.wait_for("Page.loadEventFired", timeout=120)
    page = (base_dir / ou_href).resolve()
    check(browser.evaluate("location.href") == page.as_uri(), "following an OU from the summary does not open its page")
    visit(page)
    facts["ou_page"] = ou_href
    check(browser.evaluate("!document.getElementById('m-filters').hidden"),
          "the OU page's filters did not appear: the script did not run")
    m = browser.evaluate("window.__t.matrix()")
    facts["ou_default"] = {"shown": m["shown"], "total": m["total"], "result": m["result"]}
    check(m["shown"] == m["attention"] and m["shown"] > 0,
          f"by default the OU page shows {m['shown']} accounts, {m['attention']} need attention")
    check(str(m["shown"]) in m["result"], f"the result line does not count the accounts: {m['result']!r}")
    screenshot(browser, args.artifacts / f"{prefix}ou-top.png", artifacts)
    right = browser.evaluate("document.querySelector('table.matrix').getBoundingClientRect().right")
    check(right <= 1400, f"the OU page's matrix is wider than the 1,400px screen: {right}px")
    browser.evaluate("window.__t.set('m-show', 'all')")
    every = browser.evaluate("window.__t.matrix()")
    check(every["shown"] == every["total"], f"'all accounts' shows {every['shown']} of {every['total']}")
    browser.evaluate("window.__t.set('m-show', 'ok')")
    fine = browser.evaluate("window.__t.matrix()")
    check(fine["shown"] == every["total"] - m["attention"] and
          all(w not in ("ERROR", "FAIL", "WARN") for w in fine["shownWorst"]),
          f"'accounts that need nothing' shows {fine['shownWorst'][:10]}")
    browser.evaluate("document.getElementById('m-filters').reset()")
    browser.pump(0.2)
    check(browser.evaluate("window.__t.matrix()")["shown"] == m["shown"], "resetting the OU page's filters")
    check(browser.evaluate("document.querySelectorAll('table.scope tbody tr').length") == every["total"],
          "the OU page's scope table does not list every account of its matrix")
    dangling = browser.evaluate(DANGLING)
    check(not dangling, f"{ou_href}: links to missing anchors: {dangling}")
    missing = [h for h in browser.evaluate(LINKS) if not page.parent.joinpath(h.split("#")[0]).resolve().is_file()]
    check(not missing, f"{ou_href}: links to missing pages: {missing[:5]}")
    pdf = print_pdf(browser, args.artifacts / f"{prefix}ou.pdf", artifacts)
    text = pdf_text(pdf, [])
    if text is not None:
        facts["ou_pdf_pages"] = len(text)
        check(all(p.strip() for p in text), "blank pages in the printed OU page")
        scope_columns(check, text, "Every account of this page", "the printed OU page")

    visit(base_dir / "ous" / "index.html")
    ou_pages = browser.evaluate(
        "Array.prototype.map.call(document.querySelectorAll('#ous td a'), function (a) { return a.getAttribute('href'); })")
    facts["ou_pages"] = len(ou_pages)
    listed = {}
    for href in ou_pages:
        visit(base_dir / "ous" / href)
        for account, worst in browser.evaluate(
                "Array.prototype.map.call(document.querySelectorAll('table.matrix tr[data-a] th a'),"
                " function (a) { return [a.getAttribute('href'), a.closest('tr').getAttribute('data-w')]; })"):
            target = str((base_dir / "ous" / account).resolve().relative_to(base_dir))
            check(target not in listed, f"{target} is on two OU pages")
            listed[target] = worst
    return sorted(listed.items())


def account_checks(browser, page, check, facts, artifacts, args, prefix, visit):
    """Filters, evidence links, print and PDF of one account page with FAIL and PASS rows."""
    visit(page)
    facts["filtered_page"] = page.name
    check(browser.evaluate("!document.getElementById('filters').hidden"),
          "the filter form did not appear on the account page: the script did not run")
    base = browser.evaluate("window.__t.summary()")
    body_text = browser.evaluate("document.body.textContent")
    check("aws " in body_text, "the account page has no AWS CLI command")
    check(browser.evaluate("document.querySelectorAll('ol.steps pre.cmd').length") > 0,
          "remediation commands are not in blocks of their own")
    screenshot(browser, args.artifacts / f"{prefix}account-top.png", artifacts)

    browser.evaluate("window.__t.set('f-status', 'FAIL')")
    fail = browser.evaluate("window.__t.summary()")
    facts["filter_fail"] = {"shown": fail["shown"], "result": fail["result"]}
    check(set(fail["shownByStatus"]) <= {"FAIL"}, f"status FAIL shows {fail['shownByStatus']}")
    check(fail["shownByStatus"].get("FAIL", 0) == base["shownByStatus"].get("FAIL", 0),
          "status FAIL does not show every FAIL row")
    check(browser.evaluate("window.__t.rows().filter(function (r) { return r.getAttribute('data-s') === 'PASS'; })"
                           ".every(function (r) { return !window.__t.shown(r) && !window.__t.laidOut(r); })"),
          "a PASS row is still visible with status FAIL")
    check(browser.evaluate("window.__t.rows().filter(function (r) { return r.getAttribute('data-s') === 'FAIL'; })"
                           ".every(window.__t.laidOut)"),
          "a FAIL row is not visible with status FAIL")
    check(str(fail["shown"]) in fail["result"], f"the result line does not count the rows: {fail['result']!r}")
    screenshot(browser, args.artifacts / f"{prefix}account-filter-fail.png", artifacts)
    browser.evaluate("window.__t.set('f-status', 'PASS')")
    passing = browser.evaluate("window.__t.summary()")
    check(set(passing["shownByStatus"]) <= {"PASS"}, f"status PASS shows {passing['shownByStatus']}")
    check(passing["shown"] == base["shownByStatus"].get("PASS", 0), "status PASS does not show every PASS row")
    check(browser.evaluate("window.__t.rows().filter(window.__t.shown).every(window.__t.laidOut)"),
          "status PASS leaves PASS rows collapsed")
    browser.evaluate("window.__t.clear()")
    browser.evaluate("window.__t.set('f-rule', '0')")
    rule = browser.evaluate("window.__t.summary()")
    check(rule["shownRules"] == ["0"] and rule["shown"] > 0, f"rule filter shows rules {rule['shownRules']}")
    browser.evaluate("window.__t.clear()")
    browser.evaluate("window.__t.set('f-region', '0')")
    region = browser.evaluate("window.__t.summary()")
    check(region["shownRegions"] == ["0"] and region["shown"] > 0,
          f"Region filter shows Regions {region['shownRegions']}")
    browser.evaluate("window.__t.set('f-severity', 'critical')")
    none = browser.evaluate("window.__t.summary()")
    if none["shown"] == 0:
        check(browser.evaluate("!document.getElementById('f-none').hidden"),
              "no 'no finding matches' message when nothing matches")
    browser.evaluate("window.__t.clear()")
    cleared = browser.evaluate("window.__t.summary()")
    check(cleared["shown"] == base["total"], "clearing the filters does not show every row again")

    link = browser.evaluate(
        "(function () { var a = document.querySelector('td.ev a[href^=\"#A\"]'); return a ? a.getAttribute('href') : null; })()")
    if check(link is not None, "no finding links to its evidence"):
        browser.evaluate(f"document.querySelector('td.ev a[href=\"{link}\"]').click()")
        browser.pump(0.3)
        opened = browser.evaluate(
            f"(function () {{ var t = document.getElementById({json.dumps(link[1:])});"
            " var d = t && t.closest('details'); return !!t && (!d || d.open) && window.__t.laidOut(t); })()")
        check(opened, f"following {link} does not show the evidence")

    browser.evaluate("document.querySelectorAll('details').forEach(function (d) { d.open = false; })")
    probe = ("(function () { var d = document.querySelector('#evidence details'); if (!d) return null;"
             " var inner = d.querySelector('table');"
             " return { open: d.open, height: d.getBoundingClientRect().height, visible: window.__t.laidOut(inner),"
             " filters: window.__t.laidOut(document.getElementById('filters')),"
             " theadGroup: getComputedStyle(document.querySelector('thead')).display,"
             " rowBreak: getComputedStyle(document.querySelector('tbody tr')).breakInside }; })()")
    on_screen = browser.evaluate(probe)
    browser.call("Emulation.setEmulatedMedia", {"media": "print"})
    printed = browser.evaluate(probe)
    facts["print_media"] = printed
    if check(printed is not None, "no evidence section to print"):
        check(not on_screen["visible"], "collapsed evidence is shown on screen")
        check(not printed["open"] and printed["visible"] and printed["height"] > on_screen["height"],
              "collapsed evidence is not printed open (print CSS)")
        check(not printed["filters"], "the filter form would be printed")
        check(printed["theadGroup"] == "table-header-group", "table headers do not repeat in print")
        check(printed["rowBreak"] == "avoid", "table rows may split across pages in print")
    browser.call("Emulation.setEmulatedMedia", {"media": ""})
    pdf = print_pdf(browser, args.artifacts / f"{prefix}account.pdf", artifacts)
    text = pdf_text(pdf, [])
    if text is not None:
        facts["account_pdf_pages"] = len(text)
        blank = [i + 1 for i, page in enumerate(text) if not page.strip()]
        check(not blank, f"blank pages in the printed account page: {blank}")
        joined = "\n".join(text)
        lines = [line.strip() for line in joined.splitlines()]
        command_lines = [line for line in lines if re.search(r"\baws (s3api|kms|macie2) ", line)]
        facts["pdf_command_lines"] = len(command_lines)
        check(command_lines, "the printed account page has no aws command")
        # A command wraps only at spaces: no line of the PDF ends or starts inside a token such as
        # "us-east-1", "--region" or an ARN.
        broken = [line for line in command_lines if re.search(r"(-|:|/|=)$", line)]
        check(not broken, f"a command is cut inside a token in the PDF: {broken[:3]}")
        check(any(re.search(r"--region [a-z]{2}-[a-z]+-\d\b", line) for line in command_lines),
              "no unbroken '--region <Region>' in a printed aws command")


def screenshot(browser, path, artifacts):
    shot = browser.call("Page.captureScreenshot", {"format": "png"})
    path.write_bytes(base64.b64decode(shot["data"]))
    artifacts.append(str(path))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=pathlib.Path)
    parser.add_argument("--artifacts", type=pathlib.Path, required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--expect-total", type=int)
    parser.add_argument("--expect-fail", type=int)
    parser.add_argument("--expect-pass", type=int)
    parser.add_argument("--hostile", action="append", default=[])
    parser.add_argument("--label", default="", help="prefix of the artefacts' names (e.g. small, large)")
    parser.add_argument("--sample", type=int, default=0,
                        help="visit this many problem accounts' pages instead of every page")
    args = parser.parse_args()
    args.artifacts.mkdir(parents=True, exist_ok=True)

    if not os.access(args.chromium, os.X_OK):
        print(json.dumps({"ok": False, "failures": [
            f"{args.chromium} is missing: run scripts/ensure-chromium.sh"]}))
        return 2
    browser = Chromium(args.chromium)
    try:
        browser.open_page()
        failures, facts, artifacts = run_checks(browser, args.report, args)
    except BrowserError as error:
        print(json.dumps({"ok": False, "failures": [f"browser: {error}"]}))
        return 2
    finally:
        browser.close()
    print(json.dumps({"ok": not failures, "failures": failures, "facts": facts, "artifacts": artifacts},
                     ensure_ascii=False))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
