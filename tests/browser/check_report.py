#!/usr/bin/env python3
"""Opens report.html from disk in headless Chromium with the network disabled and checks it.

Python standard library only: Chromium is driven through the DevTools protocol over
--remote-debugging-pipe (NUL-separated JSON on file descriptors 3 and 4), so there is nothing to
install but Debian's chromium package (scripts/ensure-chromium.sh).

    check_report.py REPORT.html --artifacts DIR [--expect-total N] [--expect-fail N]
                    [--expect-pass N] [--hostile TEXT]... [--chromium PATH]

Prints one JSON object on stdout: {"ok": bool, "failures": [...], "facts": {...}, "artifacts": [...]}
and exits 0 when every check passed, 1 when one failed, 2 when the browser could not be driven.

Checks: the page loads from file:// with no console error, no uncaught exception, no dialog (alert)
and no network request but the file itself; the filter form appears (JavaScript enhancement);
status FAIL hides every PASS row and shows every FAIL row; status PASS opens the passing checks;
an account shows only that account's rows; rule and Region filters; clearing restores all rows;
an evidence link opens its collapsed section; in print media collapsed evidence is laid out
(printed open) and the filter form is not; hostile strings are shown as text. Artefacts: a
screenshot of the top of the report, one of the filtered findings, and the report printed to PDF.
"""

import argparse
import base64
import fcntl
import json
import os
import pathlib
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


def run_checks(browser, report, args):
    failures = []
    facts = {}
    artifacts = []

    def check(condition, message):
        if not condition:
            failures.append(message)
        return condition

    url = report.resolve().as_uri()
    browser.call("Emulation.setDeviceMetricsOverride",
                 {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
    browser.call("Page.navigate", {"url": url})
    browser.wait_for("Page.loadEventFired")
    browser.pump(0.5)
    browser.evaluate(HELPERS)

    # Structure and enhancement.
    facts["title"] = browser.evaluate("document.title")
    check(browser.evaluate("document.documentElement.lang") == "en", "<html lang> is not 'en'")
    for section in ("summary", "matrix", "rules", "findings", "scope", "evidence"):
        check(browser.evaluate(f"!!document.getElementById('{section}')"), f"section #{section} is missing")
    check(browser.evaluate("!document.getElementById('filters').hidden"),
          "the filter form did not appear: the script did not run")
    check(browser.evaluate("document.querySelectorAll('img, iframe, object, embed, link[href]').length") == 0,
          "the page has an img/iframe/object/embed/link element")
    base = browser.evaluate("window.__t.summary()")
    facts["rows"] = base["total"]
    facts["result_text"] = base["result"]
    check(base["shown"] == base["total"], f"without filters {base['shown']} of {base['total']} rows are shown")
    if args.expect_total is not None:
        check(base["total"] == args.expect_total,
              f"the page has {base['total']} finding rows, expected {args.expect_total}")
    if args.expect_fail is not None:
        check(base["shownByStatus"].get("FAIL", 0) == args.expect_fail,
              f"FAIL rows: {base['shownByStatus'].get('FAIL', 0)}, expected {args.expect_fail}")
    if args.expect_pass is not None:
        check(base["shownByStatus"].get("PASS", 0) == args.expect_pass,
              f"PASS rows: {base['shownByStatus'].get('PASS', 0)}, expected {args.expect_pass}")
    body_text = browser.evaluate("document.body.textContent")
    for text in args.hostile:
        # HTML parsing turns CR LF and CR into LF.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        check(text in body_text, f"hostile string not shown as text: {text[:80]!r}")
    overflow = browser.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    facts["horizontal_overflow_px"] = overflow
    check(overflow <= 1, f"the page scrolls sideways by {overflow}px (a long name breaks the layout)")
    browser.call("Emulation.setDeviceMetricsOverride",
                 {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    narrow = browser.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    facts["horizontal_overflow_narrow_px"] = narrow
    check(narrow <= 1, f"on a 390px screen the page scrolls sideways by {narrow}px")
    browser.call("Emulation.setDeviceMetricsOverride",
                 {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
    screenshot(browser, args.artifacts / "report-top.png", artifacts)

    # Status FAIL: every PASS row hidden, every FAIL row shown and laid out.
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
    browser.evaluate("document.getElementById('findings').scrollIntoView()")
    screenshot(browser, args.artifacts / "report-filter-fail.png", artifacts)

    # Status PASS: the passing checks open.
    browser.evaluate("window.__t.set('f-status', 'PASS')")
    passing = browser.evaluate("window.__t.summary()")
    check(set(passing["shownByStatus"]) <= {"PASS"}, f"status PASS shows {passing['shownByStatus']}")
    check(passing["shown"] == base["shownByStatus"].get("PASS", 0), "status PASS does not show every PASS row")
    check(browser.evaluate("window.__t.rows().filter(window.__t.shown).every(window.__t.laidOut)"),
          "status PASS leaves PASS rows collapsed")

    # An account with both failing and passing rows: only its rows.
    browser.evaluate("window.__t.clear()")
    account = browser.evaluate(
        "(function () { var best = null; document.querySelectorAll('section.acct').forEach(function (s) {"
        " var n = s.querySelectorAll('tr[data-s]').length;"
        " if (!best && s.querySelector('tr[data-s=FAIL]') && s.querySelector('tr[data-s=PASS]')) best = [s.getAttribute('data-a'), n];"
        " }); return best; })()")
    if check(account is not None, "no account has both FAIL and PASS rows to filter on"):
        index, count = account
        browser.evaluate(f"window.__t.set('f-account', '{index}')")
        only = browser.evaluate("window.__t.summary()")
        facts["filter_account"] = {"account": index, "shown": only["shown"], "result": only["result"]}
        check(only["shownAccounts"] == [index], f"account filter shows accounts {only['shownAccounts']}")
        check(only["shown"] == count, f"account filter shows {only['shown']} rows, the account has {count}")
        check(browser.evaluate("Array.prototype.filter.call(document.querySelectorAll('section.acct'),"
                               " function (s) { return !s.hidden; }).length") == 1,
              "other accounts' sections stay visible with an account filter")
        # Account and status together.
        browser.evaluate("window.__t.set('f-status', 'FAIL')")
        both = browser.evaluate("window.__t.summary()")
        check(both["shownAccounts"] == [index] and set(both["shownByStatus"]) == {"FAIL"},
              f"account + FAIL shows {both['shownAccounts']} {both['shownByStatus']}")

    # Rule and Region filters.
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

    # Evidence links open their collapsed section.
    link = browser.evaluate(
        "(function () { var a = document.querySelector('td.ev a[href^=\"#A\"]'); return a ? a.getAttribute('href') : null; })()")
    if check(link is not None, "no finding links to its evidence"):
        browser.evaluate(f"document.querySelector('td.ev a[href=\"{link}\"]').click()")
        browser.pump(0.3)
        opened = browser.evaluate(
            f"(function () {{ var t = document.getElementById({json.dumps(link[1:])});"
            " var d = t && t.closest('details'); return !!t && (!d || d.open) && window.__t.laidOut(t); })()")
        check(opened, f"following {link} does not show the evidence")
    dangling = browser.evaluate(
        "Array.prototype.filter.call(document.querySelectorAll('a[href^=\"#\"]'), function (a) {"
        " return a.getAttribute('href').length > 1 && !document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1))); })"
        ".map(function (a) { return a.getAttribute('href'); }).slice(0, 10)")
    check(not dangling, f"links to missing anchors: {dangling}")

    # Print: collapsed evidence is laid out (CSS), the filter form is not.
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
    pdf = browser.call("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True}, timeout=180)
    pdf_path = args.artifacts / "report.pdf"
    pdf_path.write_bytes(base64.b64decode(pdf["data"]))
    artifacts.append(str(pdf_path))
    facts["pdf_bytes"] = pdf_path.stat().st_size

    # Nothing ran that should not have; nothing was fetched; nothing complained.
    browser.pump(0.3)
    dialogs = browser.evaluate("window.__dialogs")
    check(not dialogs, f"a dialog was opened (script injection?): {dialogs}")
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
    facts["requests"] = requests
    check(not errors, f"console errors: {errors[:10]}")
    foreign = [r for r in requests if r != url]
    check(not foreign, f"network requests besides the file itself: {foreign[:10]}")
    check(url in requests, "the report itself was not requested (navigation not observed)")
    return failures, facts, artifacts


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
