#!/usr/bin/env python3
"""The HTML report at organization scale: size and headless-Chromium open time, side by side.

    bench/html.py [--binary target/debug/macie-audit] [--accounts 1000] [--regions 17]
                  [--small-accounts 22] [--small-regions 3] [--runs 9] [--no-append]

A measurement, not a test. It generates two synthetic runs (bench/html.py's own generator writes
`evidence.jsonl` in the evidence format of src/evidence.rs, deterministically: no emulator, which
would take hours at 1,000 accounts × 17 Regions), renders each with `macie-audit report <dir>`,
then opens each `report.html` from disk in one headless Chromium (Debian's, driven over the
DevTools pipe by tests/browser/check_report.py's driver) and takes the median open time (see
`open_times`). It prints the figures and adds a row to BENCHMARKS.md's table of HTML rows.
`bench/bench.py` (`make bench`) measures its scan's report against the small run the same way
(`small_run`, `open_times`).

Python standard library only.
"""

import argparse
import datetime
import hashlib
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from check_report import Chromium  # noqa: E402  (the driver of the browser test)

# The 17 Macie Regions that need no opt-in, as bench/scenario.py orders them.
REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "sa-east-1",
]
STARTED = datetime.datetime(2026, 11, 1, 9, 30, tzinfo=datetime.timezone.utc)
ORGANIZATION = "o-bench00001"
ROOT_ID = "r-b001"
SECURITY = "100000000001"
MANAGEMENT = "100000000000"


def at(seconds):
    return (STARTED + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def request_id(*parts):
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:32]


def ok(operation, response, *key):
    return {"operation": operation, "request_id": request_id(operation, *key),
            "observed_at": at(1), "response": response}


def err(operation, kind, code, message, *key):
    return {"operation": operation, "request_id": request_id(operation, *key), "observed_at": at(1),
            "error": {"kind": kind, "code": code, "message": message, "http_status": 403}}


def account_id(n):
    return MANAGEMENT if n == 0 else SECURITY if n == 1 else f"{200000000000 + n:012d}"


def kind_of(n):
    """Per 100 accounts, as bench/scenario.py: 70 central, 15 own repository (half without Block
    Public Access), 5 Macie without a repository, 10 no Macie; one in 50 cannot be reached (ERROR)
    and one in 100 is suspended."""
    if n < 2:
        return "central"
    if n % 100 == 99:
        return "suspended"
    if n % 50 == 7:
        return "denied"
    slot = n % 100
    if slot < 70:
        return "central"
    if slot < 85:
        return "own-open" if slot % 2 else "own"
    if slot < 90:
        return "no-repository"
    return "no-macie"


def ou_path(n):
    if n < 2:
        return f"{ORGANIZATION}/{ROOT_ID}/"
    return f"{ORGANIZATION}/{ROOT_ID}/ou-b001-{n % 4:08d}/ou-b001-{n % 20:08d}/"


def macie_condition(accounts, region):
    return {"StringEquals": {"aws:SourceAccount": accounts},
            "ArnLike": {"aws:SourceArn": [f"arn:aws:macie2:{region}:*:export-configuration:*",
                                          f"arn:aws:macie2:{region}:*:classification-job/*"]}}


def bucket_policy(bucket, accounts, region, key_arn):
    """The statements remediation writes (src/rules/remediation.rs), for `accounts`."""
    macie = {"Service": "macie.amazonaws.com"}
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyNonTLS", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyWrongKey", "Effect": "Deny", "Principal": macie, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/macie/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}}},
        {"Sid": "AllowMacieToWrite", "Effect": "Allow", "Principal": macie, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/macie/*", "Condition": macie_condition(accounts, region)},
        {"Sid": "AllowMacieToLocate", "Effect": "Allow", "Principal": macie,
         "Action": "s3:GetBucketLocation", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": macie_condition(accounts, region)}]}, indent=2)


def key_policy(owner, accounts, region):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "EnableIAMUserPermissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{owner}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "AllowMacieToUseTheKey", "Effect": "Allow",
         "Principal": {"Service": "macie.amazonaws.com"},
         "Action": ["kms:GenerateDataKey", "kms:Encrypt"], "Resource": "*",
         "Condition": macie_condition(accounts, region)}]}, indent=2)


def bucket_record(name, owner, region, block_public_access, accounts, key_arn):
    pab = {"block_public_acls": block_public_access, "ignore_public_acls": block_public_access,
           "block_public_policy": block_public_access, "restrict_public_buckets": block_public_access}
    return {"record": "bucket", "name": name, "owner": {"kind": "account", "account_id": owner},
            "unverifiable": None, "probe": None,
            "location": ok("s3:GetBucketLocation", region, name),
            "public_access_block": ok("s3:GetPublicAccessBlock", pab, name),
            "account_public_access_block": None if block_public_access else ok(
                "s3:GetPublicAccessBlock", None, name, "account"),
            "policy_status": ok("s3:GetBucketPolicyStatus", False, name),
            "policy": ok("s3:GetBucketPolicy", bucket_policy(name, accounts, region, key_arn), name),
            "encryption": ok("s3:GetBucketEncryption", {"algorithm": "aws:kms", "kms_key_id": key_arn}, name),
            "versioning": ok("s3:GetBucketVersioning", "Enabled", name),
            "object_lock": ok("s3:GetObjectLockConfiguration", False, name)}


def key_record(arn, owner, region, accounts):
    return {"record": "key", "arn": arn, "owner_account": owner, "region": region, "unverifiable": None,
            "metadata": ok("kms:DescribeKey", {"arn": arn, "state": "Enabled", "manager": "CUSTOMER",
                                               "spec": "SYMMETRIC_DEFAULT", "usage": "ENCRYPT_DECRYPT",
                                               "multi_region": False}, arn),
            "policy": ok("kms:GetKeyPolicy", key_policy(owner, accounts, region), arn),
            "rotation_enabled": ok("kms:GetKeyRotationStatus", bool(int(owner[-1]) % 2), arn)}


def generate(directory, accounts, regions):
    """Writes directory/evidence.jsonl: `accounts` accounts × the first `regions` Regions."""
    regions = REGIONS[:regions]
    population = []
    for n in range(accounts):
        population.append({"id": account_id(n), "name": f"workload-{n:04d} team {n % 37}",
                           "email": f"aws+{n:04d}@example.com",
                           "status": "SUSPENDED" if kind_of(n) == "suspended" else "ACTIVE",
                           "ou_path": ou_path(n)})
    caller = ok("sts:GetCallerIdentity", {"account": MANAGEMENT,
                                          "arn": f"arn:aws:iam::{MANAGEMENT}:user/auditor",
                                          "user_id": "AIDABENCH"}, "caller")
    header = {
        "record": "run", "schema_version": 1, "run_id": "20261101T093000Z", "tool_version": "0.1.0",
        "started_at": at(0), "config_sha256": "ab" * 32, "regions": regions, "caller": caller,
        "organization": {"mode": "organization", "management_role_arn": None,
                         "organization": ok("organizations:DescribeOrganization",
                                            {"id": ORGANIZATION,
                                             "arn": f"arn:aws:organizations::{MANAGEMENT}:organization/{ORGANIZATION}",
                                             "management_account_id": MANAGEMENT}, "org"),
                         "pages": [ok("organizations:ListAccounts", accounts, "list")]},
        "excluded_accounts": [], "accounts": population,
        "command_line": ["macie-audit", "scan"], "config_path": None,
    }
    buckets, keys = {}, {}
    central = [a["id"] for n, a in enumerate(population) if kind_of(n) == "central"]
    for region in regions:
        name = f"org-macie-results-{region}"
        arn = f"arn:aws:kms:{region}:{SECURITY}:key/central-{region}"
        buckets[name] = bucket_record(name, SECURITY, region, True, central, arn)
        keys[arn] = key_record(arn, SECURITY, region, central)
    path = pathlib.Path(directory) / "evidence.jsonl"
    with path.open("w") as out:
        out.write(json.dumps(header) + "\n")
        for n, account in enumerate(population):
            kind = kind_of(n)
            access = None
            if kind != "suspended":
                identity = (err("sts:AssumeRole", "assume_role_failed", "AccessDenied",
                                f"User: arn:aws:iam::{MANAGEMENT}:user/auditor is not authorized to perform: "
                                f"sts:AssumeRole on resource: arn:aws:iam::{account['id']}:role/Audit", n)
                            if kind == "denied" else
                            ok("sts:GetCallerIdentity", {"account": account["id"],
                                                         "arn": f"arn:aws:sts::{account['id']}:assumed-role/Audit/macie-audit",
                                                         "user_id": "AROABENCH:macie-audit"}, n))
                access = {"role_arn": f"arn:aws:iam::{account['id']}:role/Audit", "identity": identity}
            own = kind.startswith("own")
            owned = [f"macie-results-{account['id']}-{r}" for r in regions] if own else []
            out.write(json.dumps({"record": "account", "account": account, "access": access,
                                  "buckets": ok("s3:ListBuckets", owned, n) if own else None}) + "\n")
            if own:
                for region, name in zip(regions, owned):
                    arn = f"arn:aws:kms:{region}:{account['id']}:key/own-{region}"
                    buckets[name] = bucket_record(name, account["id"], region, kind == "own", [account["id"]], arn)
                    keys[arn] = key_record(arn, account["id"], region, [account["id"]])
        for n, account in enumerate(population):
            kind = kind_of(n)
            if kind in ("suspended", "denied"):
                continue
            for region in regions:
                key = (n, region)
                if kind == "no-macie":
                    session = err("macie2:GetMacieSession", "macie_not_enabled", "AccessDeniedException",
                                  "Macie is not enabled.", *key)
                else:
                    session = ok("macie2:GetMacieSession", {"status": "ENABLED", "created_at": at(-86400 * 200),
                                                            "updated_at": at(-86400 * 100)}, *key)
                if kind in ("central", "own", "own-open"):
                    owner = account["id"] if kind != "central" else SECURITY
                    bucket = (f"macie-results-{account['id']}-{region}" if kind != "central"
                              else f"org-macie-results-{region}")
                    prefix = "central" if kind == "central" else "own"
                    export = ok("macie2:GetClassificationExportConfiguration",
                                {"bucket_name": bucket, "key_prefix": "macie/",
                                 "kms_key_arn": f"arn:aws:kms:{region}:{owner}:key/{prefix}-{region}",
                                 "expected_bucket_owner": None}, *key)
                elif kind == "no-repository":
                    export = ok("macie2:GetClassificationExportConfiguration", None, *key)
                else:
                    export = None
                enabled = kind != "no-macie"
                out.write(json.dumps({
                    "record": "account_region", "account_id": account["id"], "region": region,
                    "macie_session": session,
                    "administrator": ok("macie2:GetAdministratorAccount", None, *key) if enabled else None,
                    "export_configuration": export}) + "\n")
        for name in sorted(buckets):
            out.write(json.dumps(buckets[name]) + "\n")
        for arn in sorted(keys):
            out.write(json.dumps(keys[arn]) + "\n")
        out.write(json.dumps({"record": "run_end", "ended_at": at(600), "interrupted": False}) + "\n")
    return path


def render(binary, directory):
    started = time.monotonic()
    done = subprocess.run([str(binary), "-q", "report", str(directory)], capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode not in (0, 1, 2):
        raise SystemExit(f"macie-audit report failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def directory_bytes(directory):
    return sum(p.stat().st_size for p in pathlib.Path(directory).rglob("*.html"))


def page_count(directory):
    """The account pages and the OU pages (with their index) of a run."""
    directory = pathlib.Path(directory)
    return len(list((directory / "accounts").glob("*.html"))), len(list((directory / "ous").glob("*.html")))


def open_time(browser, report):
    """Seconds from the start of the page's navigation to its first frame after the load event
    (read from disk, parsed, the script run, styled, laid out and painted), by the page's own
    clock: `performance.now()` counts from the navigation's start, so neither the DevTools round
    trips nor the browser's start-up are in it."""
    browser.call("Page.navigate", {"url": "about:blank"})
    browser.wait_for("Page.loadEventFired")
    browser.events.clear()
    browser.call("Page.navigate", {"url": pathlib.Path(report).resolve().as_uri()})
    browser.wait_for("Page.loadEventFired", timeout=300)
    # The first animation frame after load runs before that frame is painted; the second, after.
    painted = browser.evaluate("new Promise(function (done) { requestAnimationFrame(function () {"
                               " requestAnimationFrame(function () { done(performance.now()); }); }); })")
    return painted / 1000.0


def open_times(chromium, reports, runs):
    """The median open time (`open_time`) of each report of `reports` (label → path) and every
    measurement: one headless Chromium at 1,400 × 1,000 px opens each once to warm up (its
    caches, not the reports', are what a first visit lacks), then all in turn, `runs` times, so
    that a machine shared with other work slows each size alike."""
    times = {label: [] for label in reports}
    browser = Chromium(chromium, timeout=300)
    try:
        browser.open_page()
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        for report in reports.values():
            open_time(browser, report)
        for _ in range(runs):
            for label, report in reports.items():
                times[label].append(open_time(browser, report))
    finally:
        browser.close()
    return {label: statistics.median(t) for label, t in times.items()}, times


def small_run(binary, directory, accounts=22, regions=3):
    """The small run the open times are compared with (the demo's size), rendered by `binary`:
    its report.html."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    generate(directory, accounts, regions)
    render(binary, directory)
    return directory / "report.html"


def insert_row(table_header, row):
    """Adds `row` after the last row of the table of BENCHMARKS.md whose header line starts with
    `table_header` (the file has several tables: appending at its end would put a row in the last
    one)."""
    path = ROOT / "BENCHMARKS.md"
    lines = path.read_text(encoding="utf-8").split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(table_header))
    end = start
    while end + 1 < len(lines) and lines[end + 1].startswith("|"):
        end += 1
    lines.insert(end + 1, row)
    path.write_text("\n".join(lines), encoding="utf-8")


# The header of BENCHMARKS.md's table of `make bench-html` rows.
HTML_TABLE = "| date | large run (pages) |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", type=pathlib.Path, default=ROOT / "target" / "debug" / "macie-audit")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--regions", type=int, default=17)
    parser.add_argument("--small-accounts", type=int, default=22)
    parser.add_argument("--small-regions", type=int, default=3)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--keep", type=pathlib.Path, help="keep the two runs under this directory")
    parser.add_argument("--no-append", action="store_true", help="print only")
    parser.add_argument("--generate-only", type=pathlib.Path, metavar="DIR",
                        help="write DIR/evidence.jsonl of --accounts × --regions and stop (tests/integration/browser.rs)")
    args = parser.parse_args()
    if args.generate_only:
        args.generate_only.mkdir(parents=True, exist_ok=True)
        generate(args.generate_only, args.accounts, args.regions)
        return 0
    if not args.binary.exists():
        raise SystemExit(f"{args.binary} is missing: cargo build (or --binary)")
    build = "release" if "release" in args.binary.parts else "debug"

    if args.keep:
        return measure(args, build, args.keep)
    with tempfile.TemporaryDirectory(prefix="macie-audit-html-bench-") as work:
        return measure(args, build, pathlib.Path(work))


def measure(args, build, work):
    """Generates, renders and opens the two runs under `work`; prints and records the figures."""
    sizes = {"small": (args.small_accounts, args.small_regions), "large": (args.accounts, args.regions)}
    figures = {}
    for label, (accounts, regions) in sizes.items():
        directory = work / label
        directory.mkdir(parents=True, exist_ok=True)
        evidence = generate(directory, accounts, regions)
        seconds = render(args.binary, directory)
        account_pages, ou_pages = page_count(directory)
        figures[label] = {
            "accounts": accounts, "regions": regions,
            "evidence_bytes": evidence.stat().st_size,
            "report_bytes": (directory / "report.html").stat().st_size,
            "pages": account_pages, "ou_pages": ou_pages,
            "all_html_bytes": directory_bytes(directory),
            "render_s": seconds,
        }
    medians, times = open_times(args.chromium, {label: work / label / "report.html" for label in figures},
                                args.runs)
    for label, figure in figures.items():
        figure["open_median_s"] = medians[label]
        figure["open_s"] = times[label]
    ratio = figures["large"]["open_median_s"] / figures["small"]["open_median_s"]
    mb = lambda n: f"{n / 1e6:.2f} MB"  # noqa: E731
    for label, f in figures.items():
        print(f"{label}: {f['accounts']} accounts × {f['regions']} Regions; report.html {mb(f['report_bytes'])}, "
              f"{f['pages']} account pages, {f['ou_pages']} OU pages, all HTML {mb(f['all_html_bytes'])}; "
              f"rendered by macie-audit ({build}) in {f['render_s']:.1f} s; opened in Chromium in "
              f"{f['open_median_s'] * 1000:.0f} ms (median of {len(f['open_s'])}: "
              f"{', '.join(f'{t * 1000:.0f}' for t in f['open_s'])})")
    print(f"ratio large/small open time: {ratio:.2f}")
    if not args.no_append:
        small, large = figures["small"], figures["large"]
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip() or "?"
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "templates"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
        row = (f"| {now} {commit}{'+' if dirty else ''} | {large['accounts']} × {large['regions']} "
               f"({large['pages']} account pages, {large['ou_pages']} OU pages) | {mb(large['report_bytes'])} | "
               f"{mb(large['all_html_bytes'])} | "
               f"{small['accounts']} × {small['regions']}: {mb(small['report_bytes'])} | "
               f"{small['open_median_s'] * 1000:.0f} ms | {large['open_median_s'] * 1000:.0f} ms | "
               f"**{ratio:.2f}** | {build}, {large['render_s']:.0f} s |")
        insert_row(HTML_TABLE, row)
        print("added to BENCHMARKS.md:", row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
