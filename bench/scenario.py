"""The benchmark's emulated organization: N accounts x R Regions with a realistic mix, and the
minimum number of AWS calls its verdicts need (the documented minimum of BENCHMARKS.md).

The mix, by account index (deterministic, no randomness):

- account 0 is the management account 123456789012 (scanned with the caller's credentials);
- account 1 is the security account owning the central repository (bucket + key, us-east-1);
- of the others, 10 in 100 have no Macie at all, 5 in 100 enable Macie without a repository,
  15 in 100 export to a repository of their own (half of those buckets without Block Public
  Access, so the account-level setting is read too), and the rest (70 in 100, plus accounts 0 and
  1) export every Region to the central repository.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MANAGEMENT = "123456789012"
SECURITY = "100000000001"
CENTRAL_BUCKET = "bench-central-macie-results"
HOME = "us-east-1"
LIST_ACCOUNTS_PAGE = 20  # the emulator's (and AWS's) ListAccountsForParent page size

# The 17 Macie Regions that every account has (no opt-in), in the scanner's order.
REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1", "eu-west-1",
    "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
]

# Calls that read one bucket (GetBucketLocation, then six reads) and one key.
BUCKET_READS = [
    "s3:GetBucketLocation", "s3:GetPublicAccessBlock", "s3:GetBucketPolicyStatus",
    "s3:GetBucketPolicy", "s3:GetBucketEncryption", "s3:GetBucketVersioning",
    "s3:GetObjectLockConfiguration",
]
KEY_READS = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus"]
MACIE_ENABLED_READS = [
    "macie2:GetMacieSession", "macie2:GetAdministratorAccount",
    "macie2:GetClassificationExportConfiguration",
]


def account_id(index: int) -> str:
    if index == 0:
        return MANAGEMENT
    return f"{100000000000 + index:012d}"


def kind(index: int) -> str:
    """central | own | own-open | none | no-repository."""
    if index in (0, 1):
        return "central"
    bucket = index % 100
    if bucket < 10:
        return "none"
    if bucket < 15:
        return "no-repository"
    if bucket < 30:
        return "own-open" if bucket % 2 else "own"
    return "central"


RULES = ["MACIE-001", "MACIE-002", "MACIE-003", "MACIE-004", "MACIE-005"]

# What the scanner must say of each kind of account, in every Region, rule by rule: the intent of
# the mix, written down so that a benchmark run checks its verdicts and not only its speed. Every
# repository is sound (a customer managed key granted to Macie through aws:SourceOrgID, a bucket
# that denies non-TLS access and lets Macie write under macie/, versioned, SSE-KMS with the key,
# rotation on) except the own-open buckets, which lack Block Public Access at both levels.
EXPECTED = {
    "central": ["PASS", "PASS", "PASS", "PASS", "PASS"],
    "own": ["PASS", "PASS", "PASS", "PASS", "PASS"],
    "own-open": ["PASS", "PASS", "PASS", "FAIL", "PASS"],
    # Macie off: MACIE-001 fails, the rest do not apply.
    "none": ["FAIL", "NOT_APPLICABLE", "NOT_APPLICABLE", "NOT_APPLICABLE", "NOT_APPLICABLE"],
    # Macie on for 90 days without a repository: past the 30-day grace period.
    "no-repository": ["PASS", "FAIL", "NOT_APPLICABLE", "NOT_APPLICABLE", "NOT_APPLICABLE"],
}


def expected_statuses(accounts: int, regions: int) -> dict[str, dict[str, int]]:
    """How many findings of each status every rule should have, from EXPECTED and the mix."""
    counts: dict[str, dict[str, int]] = {rule: {} for rule in RULES}
    for index in range(accounts):
        for rule, status in zip(RULES, EXPECTED[kind(index)]):
            counts[rule][status] = counts[rule].get(status, 0) + regions
    return counts


def key_policy() -> str:
    return (
        '{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Principal":'
        '{"AWS":"arn:aws:iam::${ACCOUNT}:root"},"Action":"kms:*","Resource":"*"},{"Sid":"Macie",'
        '"Effect":"Allow","Principal":{"Service":"macie.amazonaws.com"},"Action":'
        '["kms:GenerateDataKey","kms:Encrypt"],"Resource":"*","Condition":{"StringEquals":'
        '{"aws:SourceOrgID":"${ORG_ID}"}}}]}'
    )


def bucket_policy() -> str:
    return (
        '{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*",'
        '"Action":"s3:*","Resource":["arn:aws:s3:::${BUCKET}","arn:aws:s3:::${BUCKET}/*"],'
        '"Condition":{"Bool":{"aws:SecureTransport":"false"}}},{"Sid":"MaciePut","Effect":"Allow",'
        '"Principal":{"Service":"macie.amazonaws.com"},"Action":"s3:PutObject","Resource":'
        '"arn:aws:s3:::${BUCKET}/macie/*"},{"Sid":"MacieLocation","Effect":"Allow","Principal":'
        '{"Service":"macie.amazonaws.com"},"Action":"s3:GetBucketLocation","Resource":'
        '"arn:aws:s3:::${BUCKET}"}]}'
    )


def repository(bucket: str, open_bucket: bool) -> str:
    bpa = "" if open_bucket else "block_public_access = true\n"
    return (
        f"[[accounts.keys]]\nalias = \"macie\"\nregion = \"{HOME}\"\nrotation = true\n"
        f"policy = '''{key_policy()}'''\n\n"
        f"[[accounts.buckets]]\nname = \"{bucket}\"\nregion = \"{HOME}\"\n{bpa}versioning = true\n"
        f"encryption = {{ sse = \"aws:kms\", kms_key = \"key:macie\" }}\n"
        f"policy = '''{bucket_policy()}'''\n"
    )


@dataclass
class Organization:
    accounts: int
    regions: list[str]
    toml: str
    minimum: dict[str, int] = field(default_factory=dict)
    chain: int = 0
    # Macie sessions, seeded through the emulator's API after it is ready (see seed_macie):
    # (account, region, export destination or None).
    macie: list[tuple[str, str, dict | None]] = field(default_factory=list)

    @property
    def minimum_total(self) -> int:
        return sum(self.minimum.values())


def seed_macie(org: Organization, endpoint: str, threads: int = 8) -> None:
    """Enables Macie and puts the export configurations through the emulator's API.

    The emulator can seed Macie from a scenario file too, but its seeder opens connections per
    account and Region and runs out of file descriptors at the full size (about 17,000 sessions),
    and does about 20 sessions/s; this does the same through the control API (`POST
    /_emulator/macie`) and Macie's own PutClassificationExportConfiguration, signed as each
    account (assumed-role keys from sts:AssumeRole), over a few keep-alive connections.
    """
    import concurrent.futures
    import http.client
    import json
    import re
    import threading
    import urllib.parse

    parsed = urllib.parse.urlsplit(endpoint)
    local = threading.local()

    def request(method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
        local.conn.request(method, path, body=body, headers=headers or {})
        response = local.conn.getresponse()
        return response.status, response.read()

    def auth(akid: str, region: str, service: str) -> dict:
        return {"Authorization": f"AWS4-HMAC-SHA256 Credential={akid}/20260101/{region}/{service}/"
                                 "aws4_request, SignedHeaders=host;x-amz-date, Signature=0",
                "X-Amz-Date": "20260101T000000Z"}

    status, body = request("GET", "/_emulator/scenario")
    keys = json.loads(body)["keys"]
    accounts = sorted({a for a, _, export in org.macie if export})

    def assume(account: str) -> tuple[str, str]:
        if account == MANAGEMENT:
            return account, "testing"
        form = urllib.parse.urlencode({"Action": "AssumeRole", "Version": "2011-06-15",
                                       "RoleArn": f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                                       "RoleSessionName": "bench-seed"}).encode()
        status, body = request("POST", "/", form, {**auth("testing", HOME, "sts"),
                                                   "Content-Type": "application/x-www-form-urlencoded"})
        m = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", body)
        if status != 200 or not m:
            raise RuntimeError(f"AssumeRole into {account}: {status} {body[:300]!r}")
        return account, m.group(1).decode()

    def enable(item: tuple[str, str, dict | None], akids: dict[str, str]) -> None:
        account, region, export = item
        status, body = request("POST", "/_emulator/macie", json.dumps(
            {"account": account, "region": region, "enabled": True, "created_days_ago": 90}).encode(),
            {"Content-Type": "application/json"})
        if status != 200:
            raise RuntimeError(f"enabling Macie in {account} {region}: {status} {body[:300]!r}")
        if export is None:
            return
        doc = {"configuration": {"s3Destination": {"bucketName": export["bucket"], "keyPrefix": "macie/",
                                                    "kmsKeyArn": keys[export["key"]]}}}
        status, body = request("PUT", "/classification-export-configuration", json.dumps(doc).encode(),
                               {**auth(akids[account], region, "macie2"), "Content-Type": "application/json"})
        if status != 200:
            raise RuntimeError(f"export configuration of {account} {region}: {status} {body[:300]!r}")

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        akids = dict(pool.map(assume, accounts))
        for _ in pool.map(lambda item: enable(item, akids), org.macie):
            pass


def generate(accounts: int, regions: int) -> Organization:
    if accounts < 2:
        raise ValueError("at least 2 accounts (management and security)")
    if not 1 <= regions <= len(REGIONS):
        raise ValueError(f"1 to {len(REGIONS)} Regions")
    names = REGIONS[:regions]
    parts = ["[organization]\nenabled = true\n"]
    minimum: dict[str, int] = {}
    macie: list[tuple[str, str, dict | None]] = []

    def add(label: str, n: int = 1) -> None:
        minimum[label] = minimum.get(label, 0) + n

    # The caller's identity, and the organization tree: described once, its root, and (every
    # account sits directly under the root) the root's pages of accounts and its one page of OUs.
    add("sts:GetCallerIdentity")
    add("organizations:DescribeOrganization")
    add("organizations:ListRoots")
    add("organizations:ListAccountsForParent", max(1, math.ceil(accounts / LIST_ACCOUNTS_PAGE)))
    add("organizations:ListOrganizationalUnitsForParent")
    needs_account_block = False
    for index in range(accounts):
        ident = account_id(index)
        k = kind(index)
        parts.append(f"[[accounts]]\nid = \"{ident}\"\nname = \"bench-{index:05d}-{k}\"\n")
        # Per account: one AssumeRole (not for the caller's own account), one GetCallerIdentity,
        # one ListBuckets.
        if ident != MANAGEMENT:
            add("sts:AssumeRole")
        add("sts:GetCallerIdentity")
        add("s3:ListBuckets")
        for region in names:
            if k == "none":
                add("macie2:GetMacieSession")
                continue
            if k == "central":
                export = {"bucket": CENTRAL_BUCKET, "key": f"{SECURITY}:{HOME}:macie"}
            elif k in ("own", "own-open"):
                export = {"bucket": f"bench-{ident}-macie", "key": f"{ident}:{HOME}:macie"}
            else:
                export = None
            macie.append((ident, region, export))
            for label in MACIE_ENABLED_READS:
                add(label)
        if ident == SECURITY:
            parts.append(repository(CENTRAL_BUCKET, False))
        if k in ("own", "own-open"):
            parts.append(repository(f"bench-{ident}-macie", k == "own-open"))
        # Each distinct repository bucket and key, read once.
        if ident == SECURITY or k in ("own", "own-open"):
            for label in BUCKET_READS + KEY_READS:
                add(label)
            if k == "own-open":
                add("s3control:GetPublicAccessBlock")
                needs_account_block = True
    # The longest chain of dependent calls: caller identity, DescribeOrganization, ListRoots, the
    # root's pages of accounts one after the other, AssumeRole, GetCallerIdentity,
    # GetMacieSession, the export configuration, then the repository: GetBucketLocation, a bucket
    # read, and the account-level Block Public Access read that an open bucket's answer calls for
    # (a key is DescribeKey then two reads: shorter or equal).
    pages = minimum["organizations:ListAccountsForParent"]
    chain = 1 + 2 + pages + 2 + 2 + (3 if needs_account_block else 2)
    return Organization(accounts=accounts, regions=names, toml="\n".join(parts),
                        minimum=dict(sorted(minimum.items())), chain=chain, macie=macie)


if __name__ == "__main__":
    import sys

    org = generate(int(sys.argv[1]), int(sys.argv[2]))
    print(org.toml)
