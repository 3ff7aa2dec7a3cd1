"""`make bench`: scan an emulated organization of N accounts x R Regions with a per-request latency
L, measure the release binary, compare with the lower bound and the minimum number of calls,
measure the scan's HTML report (size, and open time in headless Chromium against a 22 x 3 run's,
as bench/html.py does), and add a row to BENCHMARKS.md. See BENCHMARKS.md for what each column
means.

    .venv/bin/python bench/bench.py [--size quick|full] [--accounts N --regions R]
        [--latency-ms 100] [--emulator replay|moto] [--fresh] [--no-append]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime
import hashlib
import importlib.util
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scenario  # noqa: E402

# bench/html.py, loaded under another name: "html" is a module of the standard library.
_spec = importlib.util.spec_from_file_location("html_bench", Path(__file__).resolve().parent / "html.py")
html_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(html_bench)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv/bin/python"
BINARY = ROOT / "target/release/macie-audit"
CACHE = ROOT / "target/bench"
SIZES = {"quick": (50, 4), "full": (1000, 17)}
CHROMIUM = "/usr/bin/chromium"
# Openings of each report for the HTML open-time ratio (median).
HTML_RUNS = 9
# The header of BENCHMARKS.md's table of `make bench` rows.
RESULTS_TABLE = "| date | commit | size |"
# The scanner's configuration for every benchmark run (BENCHMARKS.md says why).
CONCURRENCY_ACCOUNTS = 64
CONCURRENCY_REQUESTS = 64


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class Process:
    """A server started by the benchmark, stopped by its PID."""

    def __init__(self, argv: list[str], timeout: float) -> None:
        self.port = free_port()
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        start = time.monotonic()
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.stderr.seek(0)
            raise SystemExit(f"{argv[1]} did not start: {self.stderr.read().decode()[-2000:]}")
        self.startup = time.monotonic() - start
        self.url = f"http://127.0.0.1:{self.port}"
        del timeout

    def control(self, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data,
                                     method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_scan(endpoint: str, regions: list[str], workdir: Path) -> dict:
    """Runs the release binary under /usr/bin/time -v; wall, CPU, peak RSS and report timing."""
    config = workdir / "config.toml"
    config.write_text(
        f"[concurrency]\naccounts = {CONCURRENCY_ACCOUNTS}\nrequests = {CONCURRENCY_REQUESTS}\n"
        f"[output]\ndirectory = \"{workdir / 'reports'}\"\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    timing = workdir / "time.txt"
    argv = ["/usr/bin/time", "-v", "-o", str(timing), str(BINARY), "-q", "scan",
            "--config", str(config), "--regions", ",".join(regions)]
    start = time.monotonic()
    result = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True)
    wall = time.monotonic() - start
    if result.returncode not in (0, 1, 2):
        raise SystemExit(f"the scan failed with exit code {result.returncode}:\n{result.stderr[-3000:]}")
    text = timing.read_text()

    def field(name: str) -> str:
        m = re.search(rf"{re.escape(name)}: (.+)", text)
        return m.group(1).strip() if m else "0"

    run_dirs = sorted(p for p in (workdir / "reports").iterdir() if p.is_dir() and not p.is_symlink())
    return {
        "exit_code": result.returncode,
        "wall_s": wall,
        "user_s": float(field("User time (seconds)")),
        "sys_s": float(field("System time (seconds)")),
        "peak_rss_mb": int(field("Maximum resident set size (kbytes)")) / 1024.0,
        "run_dir": run_dirs[-1] if run_dirs else None,
        "stderr": result.stderr,
    }


def render_time(run_dir: Path, workdir: Path) -> float:
    """`macie-audit report` of the run into another directory: evaluation and every report."""
    out = workdir / "rerender"
    start = time.monotonic()
    subprocess.run([str(BINARY), "-q", "report", str(run_dir), "--output-dir", str(out)],
                   check=False, capture_output=True)
    return time.monotonic() - start


def html_figures(run_dir: Path, workdir: Path) -> dict:
    """The scan's report.html: its size, and its open time in headless Chromium over a 22 x 3
    run's (generated and rendered by the same binary), opened side by side (bench/html.py)."""
    small = html_bench.small_run(BINARY, workdir / "html-small")
    report = run_dir / "report.html"
    medians, _ = html_bench.open_times(CHROMIUM, {"small": small, "large": report}, HTML_RUNS)
    return {"report_mb": report.stat().st_size / 1e6, "ratio": medians["large"] / medians["small"],
            "small_ms": medians["small"] * 1000, "large_ms": medians["large"] * 1000}


# --- emulator capacity -------------------------------------------------------------------------

def raw_requests(host: str, mix: dict[str, int]) -> list[bytes]:
    """Signed-looking requests of the management account, in the proportions of the run's mix."""
    def request(service: str, method: str, path: str, body: bytes = b"", extra: str = "") -> bytes:
        auth = (f"AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, "
                f"SignedHeaders=host;x-amz-date, Signature=0")
        head = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
                f"X-Amz-Date: 20260101T000000Z\r\n{extra}Content-Length: {len(body)}\r\n\r\n")
        return head.encode() + body

    macie = request("macie2", "GET", "/macie")
    sts = request("sts", "POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15",
                  "Content-Type: application/x-www-form-urlencoded\r\n")
    s3 = request("s3", "GET", "/")
    total = sum(mix.values()) or 1
    shares = {
        macie: sum(n for k, n in mix.items() if k.startswith("macie2:")),
        sts: sum(n for k, n in mix.items() if k.startswith("sts:")),
    }
    shares[s3] = total - sum(shares.values())
    out = []
    for raw, n in shares.items():
        out += [raw] * max(1, round(100 * n / total))
    return out


async def hammer(host: str, port: int, requests: list[bytes], count: int, concurrency: int) -> float:
    """Sends `count` requests over `concurrency` keep-alive connections; requests per second."""
    remaining = count

    async def worker(offset: int) -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection(host, port)
        i = offset
        while remaining > 0:
            remaining -= 1
            writer.write(requests[i % len(requests)])
            i += 1
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            m = re.search(rb"(?i)content-length:\s*(\d+)", head)
            if m and int(m.group(1)):
                await reader.readexactly(int(m.group(1)))
        writer.close()

    start = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return count / (time.monotonic() - start)


def calibrate(server: Process, mix: dict[str, int], total: int) -> float:
    """The emulator's own capacity (requests/s) with no injected latency, at the scanner's
    concurrency, on the run's mix of services."""
    server.control("faults", {"latency_ms": 0})
    requests = raw_requests(f"127.0.0.1:{server.port}", mix)
    count = max(1000, min(total, 6000))
    rate = asyncio.run(hammer("127.0.0.1", server.port, requests, count, CONCURRENCY_REQUESTS))
    server.control("counters/reset", {})
    return rate


# --- the run -----------------------------------------------------------------------------------

def start_moto(scenario_file: Path, org: scenario.Organization) -> Process:
    log("seeding the moto emulator …")
    emulator = Process([str(PYTHON), str(ROOT / "tests/emulator/emulator.py"), "--port", "{port}",
                        "--quiet", "--scenario", str(scenario_file)], timeout=3600)
    start = time.monotonic()
    scenario.seed_macie(org, emulator.url)
    log(f"moto emulator seeded in {emulator.startup:.1f} s (accounts, repositories) + "
        f"{time.monotonic() - start:.1f} s ({len(org.macie)} Macie sessions)")
    emulator.control("counters/reset", {})
    return emulator


def recording_for(org: scenario.Organization, scenario_file: Path, fresh: bool) -> Path:
    """Records moto's answers to one scan of the organization (cached by scenario and binary)."""
    # The calls the scanner makes are part of the key: a scanner that makes other calls (a new
    # operation, another page size) needs a new recording.
    digest = hashlib.sha256(org.toml.encode() + repr((org.regions, org.macie, sorted(org.minimum))).encode()
                            ).hexdigest()[:16]
    CACHE.mkdir(parents=True, exist_ok=True)
    recording = CACHE / f"recording-{org.accounts}x{len(org.regions)}-{digest}.jsonl"
    if recording.exists() and not fresh:
        log(f"reusing {recording.relative_to(ROOT)} (--fresh to record again)")
        return recording
    emulator = start_moto(scenario_file, org)
    try:
        partial = recording.with_suffix(".partial")
        recorder = Process([str(PYTHON), str(ROOT / "bench/replay.py"), "record", "--upstream",
                            emulator.url, "--out", str(partial), "--port", "{port}"], timeout=60)
        try:
            emulator.control("counters/reset", {})
            with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
                log("recording moto's answers to a scan …")
                scan = run_scan(recorder.url, org.regions, Path(tmp))
                log(f"recorded in {scan['wall_s']:.1f} s")
            moto = emulator.control("counters")["operations"]
            ours = recorder.control("counters")["operations"]
            if moto != ours:
                log(f"warning: the recorder's labels differ from moto's: {moto} vs {ours}")
        finally:
            recorder.stop()
        partial.rename(recording)
    finally:
        emulator.stop()
    return recording


def fmt_ops(ops: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(ops.items()))


def main() -> int:
    global CONCURRENCY_ACCOUNTS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=SIZES, default="quick")
    parser.add_argument("--accounts", type=int)
    parser.add_argument("--regions", type=int)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--emulator", choices=["replay", "moto"], default="replay")
    parser.add_argument("--concurrency-accounts", type=int, default=CONCURRENCY_ACCOUNTS)
    parser.add_argument("--fresh", action="store_true", help="record moto's answers again")
    parser.add_argument("--no-append", action="store_true", help="print the row, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    CONCURRENCY_ACCOUNTS = args.concurrency_accounts
    accounts, regions = SIZES[args.size]
    accounts = args.accounts or accounts
    regions = args.regions or regions
    if not BINARY.exists():
        raise SystemExit(f"missing {BINARY}: cargo build --release")
    org = scenario.generate(accounts, regions)
    label = args.size if (args.accounts, args.regions) == (None, None) else "custom"
    log(f"{label}: {accounts} accounts x {regions} Regions, L = {args.latency_ms:g} ms, "
        f"{args.emulator} emulator")

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        tmp = Path(tmp)
        scenario_file = tmp / "scenario.toml"
        scenario_file.write_text(org.toml)
        if args.emulator == "replay":
            recording = recording_for(org, scenario_file, args.fresh)
            server = Process([str(PYTHON), str(ROOT / "bench/replay.py"), "serve", "--recording",
                              str(recording), "--port", "{port}"], timeout=120)
        else:
            server = start_moto(scenario_file, org)
        try:
            server.control("counters/reset", {})
            server.control("faults", {"latency_ms": args.latency_ms})
            log("scanning …")
            scan = run_scan(server.url, org.regions, tmp)
            counters = server.control("counters")
            operations = {k: v for k, v in counters["operations"].items()}
            unrecorded = counters.get("unrecorded") or {}
            total = sum(operations.values())
            log("calibrating the emulator's capacity …")
            capacity = calibrate(server, operations, total)
        finally:
            server.stop()
        render_s = render_time(scan["run_dir"], tmp) if scan["run_dir"] else float("nan")
        findings = 0
        verdicts: dict[str, dict[str, int]] = {}
        if scan["run_dir"] and (scan["run_dir"] / "findings.csv").exists():
            with open(scan["run_dir"] / "findings.csv", encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    findings += 1
                    rule = verdicts.setdefault(row["rule_id"], {})
                    rule[row["status"]] = rule.get(row["status"], 0) + 1
        evidence_mb = (scan["run_dir"] / "evidence.jsonl").stat().st_size / 1e6 if scan["run_dir"] else 0
        log("opening the HTML report in Chromium …")
        html = html_figures(scan["run_dir"], tmp) if scan["run_dir"] else None

    latency = args.latency_ms / 1000.0
    by_requests = total * latency / CONCURRENCY_REQUESTS
    by_chain = org.chain * latency
    by_emulator = total / capacity
    lower = max(by_requests, by_chain, by_emulator)
    ratio = scan["wall_s"] / lower
    minimum = org.minimum_total
    cpu = scan["user_s"] + scan["sys_s"]
    account_regions = accounts * regions
    excess = {k: operations.get(k, 0) - org.minimum.get(k, 0)
              for k in sorted(set(operations) | set(org.minimum))
              if operations.get(k, 0) != org.minimum.get(k, 0)}
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "templates"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    row = (f"| {now} | {commit}{'+' if dirty else ''} | {label} {accounts}×{regions} | "
           f"{args.latency_ms:g} | {args.emulator}{'' if CONCURRENCY_ACCOUNTS == 64 else f', accounts={CONCURRENCY_ACCOUNTS}'} | {scan['wall_s']:.2f} | {cpu:.2f} | "
           f"{scan['peak_rss_mb']:.0f} | {total} | {total / account_regions:.2f} | "
           f"{total / minimum:.3f} | {lower:.2f} ({'requests' if lower == by_requests else 'chain' if lower == by_chain else 'emulator'}) | "
           f"**{ratio:.2f}** | {render_s:.2f} | {capacity:.0f} | {findings} | {evidence_mb:.1f} | "
           + (f"{html['report_mb']:.2f} | **{html['ratio']:.2f}** |" if html else "— | — |"))

    report = f"""
size                 {label}: {accounts} accounts × {regions} Regions = {account_regions} account-Regions
latency L            {args.latency_ms:g} ms per request ({args.emulator} emulator), scanner: {CONCURRENCY_REQUESTS} requests in flight, {CONCURRENCY_ACCOUNTS} accounts
exit code            {scan['exit_code']}
wall time            {scan['wall_s']:.2f} s
scanner CPU          {cpu:.2f} s (user {scan['user_s']:.2f} + sys {scan['sys_s']:.2f})
peak RSS             {scan['peak_rss_mb']:.1f} MB
report re-render     {render_s:.2f} s ({findings} findings, evidence {evidence_mb:.1f} MB)
API calls            {total} ({total / account_regions:.2f} per account-Region)
  by operation       {fmt_ops(operations)}
minimum calls        {minimum}; made ÷ minimum = {total / minimum:.3f}{'' if not excess else f'  (differences: {excess})'}
{'UNRECORDED          ' + str(unrecorded) if unrecorded else ''}
emulator capacity    {capacity:.0f} requests/s (calibrated at latency 0 with {CONCURRENCY_REQUESTS} connections)
lower bound          {lower:.2f} s = max(calls × L ÷ {CONCURRENCY_REQUESTS} = {by_requests:.2f}, chain {org.chain} × L = {by_chain:.2f}, calls ÷ capacity = {by_emulator:.2f})
wall ÷ lower bound   {ratio:.2f}
HTML report          """ + (f"report.html {html['report_mb']:.2f} MB; opened in Chromium in {html['large_ms']:.0f} ms "
                          f"against {html['small_ms']:.0f} ms for 22 × 3: ratio {html['ratio']:.2f}"
                          if html else "none (no run directory)") + "\n"
    expected = scenario.expected_statuses(accounts, regions)
    verdicts_hold = verdicts == expected
    report += "verdicts             " + ("as the scenario intends (BENCHMARKS.md, \"The organization\")"
                                       if verdicts_hold else
                                       f"DIFFER from the scenario's intent:\n  got      {verdicts}\n"
                                       f"  expected {expected}") + "\n"
    print(report)
    print(row)
    if not verdicts_hold:
        log("the verdicts differ from what the scenario intends: no row appended")
        return 1
    if unrecorded:
        log("the scan made requests the recording does not have: run with --fresh")
    if not args.no_append:
        html_bench.insert_row(RESULTS_TABLE, row)
        log(f"added to BENCHMARKS.md ({platform.node()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
