#!/usr/bin/env python3
"""Self-check of the emulator: starts it on free ports, loads scenarios, exercises every layer
behaviour with boto3 and raw signed HTTP, prints `N passed, M failed` and stops it.

    .venv/bin/python tests/emulator/selfcheck.py [-v]
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from typing import Any, Callable

import boto3
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "emulator.py")
DEMO = os.path.join(HERE, "scenarios", "demo.toml")
VERBOSE = "-v" in sys.argv

MGMT = "123456789012"
SECURITY = "210987654321"
LOG_ARCHIVE = "486031257904"
PROD_PAYMENTS = "519283746501"
DATA_PLATFORM = "733104982216"
STAGING = "845720193366"
ANALYTICS = "958261730477"
SANDBOX = "160738294518"
LEGACY = "271849305629"
MEMBER = "382950416730"
PARTNER = "493061527841"
RETIRED = "504172638952"
EMEA = "615283749063"
CENTRAL_USE1 = "acme-macie-discovery-results-use1"
STATIC = ("testing", "testing", None)
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


# ------------------------------------------------------------------------------------------------
# harness
# ------------------------------------------------------------------------------------------------

class Results:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.failures: list[str] = []

    def check(self, name: str, cond: bool, detail: Any = "") -> bool:
        if cond:
            self.passed += 1
            if VERBOSE:
                print(f"  ok   {name}")
        else:
            self.failed += 1
            self.failures.append(f"{name}: {detail}")
            print(f"  FAIL {name}: {detail}")
        return cond

    def run(self, name: str, fn: Callable[[], None]) -> None:
        print(f"- {name}")
        try:
            fn()
        except Exception as exc:  # a crashing group counts as one failure
            self.check(f"{name} (raised)", False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")


R = Results()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    def __init__(self, scenario: str | None = None) -> None:
        self.port = free_port()
        self.pid_file = tempfile.mktemp(prefix="emulator-", suffix=".pid")
        cmd = [sys.executable, EMULATOR, "--port", str(self.port), "--pid-file", self.pid_file]
        if scenario:
            cmd += ["--scenario", scenario]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr: list[str] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        start = time.time()
        line = self.proc.stdout.readline()  # blocks until READY (or exit)
        self.startup = time.time() - start
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError(f"emulator did not start: {line!r} {''.join(self.stderr)[-2000:]}")
        self.ready_line = line.strip()
        self.url = line.split()[1]

    def _drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return None
        return self.proc.returncode

    # control API
    def control(self, method: str, path: str, body: Any = None, ctype: str = "application/json") -> tuple[int, Any]:
        data = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def counters(self) -> dict:
        return self.control("GET", "/_emulator/counters")[1]

    def faults(self, **settings: Any) -> dict:
        status, body = self.control("POST", "/_emulator/faults", settings)
        assert status == 200, body
        return body

    # clients
    def session_creds(self, account: str) -> tuple[str, str, str | None]:
        if account == MGMT:
            return STATIC
        sts = self.client("sts", "us-east-1", STATIC)
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                            RoleSessionName="selfcheck")["Credentials"]
        return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]

    def client(self, service: str, region: str, creds: tuple, **cfg: Any) -> Any:
        config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"},
                        max_pool_connections=64, **cfg)
        return boto3.client(service, region_name=region, endpoint_url=self.url, config=config,
                            aws_access_key_id=creds[0], aws_secret_access_key=creds[1], aws_session_token=creds[2])

    def raw(self, method: str, service: str, region: str, path: str, creds: tuple, body: bytes = b"",
            headers: dict | None = None, query: str = "", conn: http.client.HTTPConnection | None = None
            ) -> tuple[int, dict, bytes]:
        url = self.url + path + (f"?{query}" if query else "")
        req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        auth_cls = S3SigV4Auth if service == "s3" else SigV4Auth
        auth_cls(Credentials(creds[0], creds[1], creds[2]), service, region).add_auth(req)
        own = conn is None
        if own:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, path + (f"?{query}" if query else ""), body=body or None, headers=dict(req.headers))
        r = conn.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if own:
            conn.close()
        return r.status, hdrs, data


def err(fn: Callable[[], Any]) -> tuple[int, str, str, dict]:
    """(HTTP status, error code, message, response) of a boto3 call expected to fail."""
    try:
        fn()
    except ClientError as e:
        meta = e.response.get("ResponseMetadata", {})
        return meta.get("HTTPStatusCode", 0), e.response["Error"].get("Code", ""), \
            e.response["Error"].get("Message", ""), e.response
    return 0, "", "no error", {}


def xml_field(data: bytes, tag: str) -> str | None:
    m = re.search(rf"<{tag}>(.*?)</{tag}>", data.decode("utf-8", "replace"), re.S)
    return m.group(1) if m else None


# ------------------------------------------------------------------------------------------------
# checks against the demo scenario
# ------------------------------------------------------------------------------------------------

def demo_checks(emu: Emulator) -> None:
    creds: dict[str, tuple] = {}

    def cr(acct: str) -> tuple:
        if acct not in creds:
            creds[acct] = emu.session_creds(acct)
        return creds[acct]

    def startup() -> None:
        R.check("READY line format", re.fullmatch(r"READY http://127\.0\.0\.1:\d+", emu.ready_line), emu.ready_line)
        R.check("no request log on stderr", not any("GET /" in l or "POST /" in l for l in emu.stderr),
                emu.stderr[-3:])
        status, body = emu.control("GET", "/_emulator/health")
        R.check("health", status == 200 and body == {"ok": True}, body)
        c = emu.counters()
        R.check("counters empty after seeding",
                c == {"operations": {}, "faulted": {}, "by_account": {}, "assume_role_targets": {}, "expired": {},
                      "expired_by_account": {}}, c)
        status, sc = emu.control("GET", "/_emulator/scenario")
        R.check("scenario result: management account", sc.get("management_account_id") == MGMT, sc)
        R.check("scenario result: names -> ids", sc.get("accounts", {}).get("log-archive") == LOG_ARCHIVE
                and len(sc.get("accounts", {})) == 14, sc.get("accounts"))
        status, body = emu.control("POST", "/_emulator/scenario", "[organization]\nenabled = true\n", "application/toml")
        R.check("second scenario refused", status == 400 and "already" in body.get("error", ""), (status, body))
        status, body = emu.control("POST", "/_emulator/nope", {})
        R.check("unknown control route 404", status == 404, status)

    def organizations() -> None:
        org = emu.client("organizations", "us-east-1", STATIC)
        status, sc = emu.control("GET", "/_emulator/scenario")
        units = sc.get("organizational_units", {})
        prod = units.get("Workloads/Prod", {})
        root = sc.get("root_id", "")
        R.check("scenario result: OUs with ids and paths", prod.get("path", "") ==
                f"{sc.get('organization_id')}/{root}/{units.get('Workloads', {}).get('id')}/{prod.get('id')}/", units)
        parents = org.list_parents(ChildId=PROD_PAYMENTS)["Parents"]
        R.check("account moved into its OU", [p["Id"] for p in parents] == [prod.get("id")], parents)
        under_prod = {a["Id"] for a in org.list_accounts_for_parent(ParentId=prod.get("id", ""))["Accounts"]}
        R.check("ListAccountsForParent lists the OU's accounts", PROD_PAYMENTS in under_prod
                and MGMT not in under_prod, under_prod)
        under_root = {a["Id"] for a in org.list_accounts_for_parent(ParentId=root)["Accounts"]}
        R.check("the management account stays under the root", MGMT in under_root
                and PROD_PAYMENTS not in under_root, under_root)
        r = org.list_accounts()
        accounts = r["Accounts"]
        R.check("ListAccounts: 14 accounts, one page", len(accounts) == 14 and not r.get("NextToken"), len(accounts))
        by_id = {a["Id"]: a for a in accounts}
        R.check("explicit account ids", set(by_id) >= {MGMT, LOG_ARCHIVE, EMEA, RETIRED}, sorted(by_id))
        R.check("management account name", by_id[MGMT]["Name"] == "acme-management", by_id[MGMT])
        R.check("suspended account", by_id[RETIRED]["Status"] == "SUSPENDED", by_id[RETIRED])
        R.check("active account", by_id[PROD_PAYMENTS]["Status"] == "ACTIVE", by_id[PROD_PAYMENTS])
        ids: list[str] = []
        token = None
        pages = 0
        while True:
            kw = {"MaxResults": 5} | ({"NextToken": token} if token else {})
            r = org.list_accounts(**kw)
            pages += 1
            ids += [a["Id"] for a in r["Accounts"]]
            token = r.get("NextToken")
            if not token:
                break
        R.check("ListAccounts MaxResults=5 pages", pages == 3 and len(ids) == 14 and len(set(ids)) == 14, (pages, ids))
        status, code, msg, _ = err(lambda: org.list_accounts(MaxResults=21))
        R.check("ListAccounts MaxResults=21 -> InvalidInputException", (status, code) == (400, "InvalidInputException"),
                (status, code, msg))
        R.check("DescribeOrganization", org.describe_organization()["Organization"]["MasterAccountId"] == MGMT)
        member_org = emu.client("organizations", "us-east-1", cr(PROD_PAYMENTS))
        status, code, msg, _ = err(lambda: member_org.list_accounts())
        R.check("member ListAccounts -> AccessDeniedException", (status, code) == (400, "AccessDeniedException"),
                (status, code, msg))
        R.check("member DescribeOrganization works",
                member_org.describe_organization()["Organization"]["MasterAccountId"] == MGMT)
        sec_org = emu.client("organizations", "us-east-1", cr(SECURITY))
        R.check("delegated administrator ListAccounts", len(sec_org.list_accounts()["Accounts"]) == 14)

    def sts() -> None:
        sts = emu.client("sts", "us-east-1", STATIC)
        R.check("management identity", sts.get_caller_identity()["Account"] == MGMT)
        member_sts = emu.client("sts", "us-east-1", cr(PROD_PAYMENTS))
        ident = member_sts.get_caller_identity()
        R.check("assumed-role credentials act in the role's account", ident["Account"] == PROD_PAYMENTS, ident)
        role = f"arn:aws:iam::{PARTNER}:role/OrganizationAccountAccessRole"
        status, hdrs, data = emu.raw("POST", "sts", "us-east-1", "/", STATIC,
                                     f"Action=AssumeRole&Version=2011-06-15&RoleArn={role}&RoleSessionName=x1".encode(),
                                     {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        R.check("denied AssumeRole: 403 text/xml", status == 403 and hdrs.get("content-type", "").startswith("text/xml"),
                (status, hdrs))
        R.check("denied AssumeRole: AccessDenied Sender", xml_field(data, "Code") == "AccessDenied"
                and xml_field(data, "Type") == "Sender" and b"sts.amazonaws.com/doc/2011-06-15/" in data, data)
        msg = xml_field(data, "Message") or ""
        R.check("denied AssumeRole: message", msg == f"User: arn:aws:sts::{MGMT}:user/moto is not authorized to "
                f"perform: sts:AssumeRole on resource: {role}", msg)
        R.check("denied AssumeRole: RequestId", bool(re.search(r"<RequestId>[0-9a-f-]{36}</RequestId>", data.decode())))
        # chained: from an assumed role the caller ARN is the assumed-role ARN
        status, code, msg, _ = err(lambda: member_sts.assume_role(RoleArn=role, RoleSessionName="chain"))
        R.check("denied chained AssumeRole names assumed-role caller",
                code == "AccessDenied" and f"arn:aws:sts::{PROD_PAYMENTS}:assumed-role/OrganizationAccountAccessRole/"
                "selfcheck" in msg, msg)
        status, code, msg, _ = err(lambda: sts.assume_role(
            RoleArn=f"arn:aws:iam::{RETIRED}:role/OrganizationAccountAccessRole", RoleSessionName="x2"))
        R.check("AssumeRole into SUSPENDED account denied", (status, code) == (403, "AccessDenied"), (status, code))

    def macie() -> None:
        now = dt.datetime.now(dt.timezone.utc)
        status, hdrs, data = emu.raw("GET", "macie2", "us-east-1", "/macie", cr(STAGING))
        body = json.loads(data)
        R.check("GetMacieSession 200 json", status == 200 and hdrs.get("content-type") == "application/json", hdrs)
        R.check("GetMacieSession x-amzn-RequestId", re.fullmatch(r"[0-9a-f-]{36}", hdrs.get("x-amzn-requestid", "")),
                hdrs)
        R.check("GetMacieSession fields", set(body) == {"createdAt", "findingPublishingFrequency", "serviceRole",
                                                         "status", "updatedAt"} and body["status"] == "ENABLED"
                and body["findingPublishingFrequency"] == "FIFTEEN_MINUTES"
                and body["serviceRole"] == f"arn:aws:iam::{STAGING}:role/aws-service-role/macie.amazonaws.com/"
                                           "AWSServiceRoleForAmazonMacie", body)
        R.check("timestamps RFC 3339 ms Z", TS_RE.match(body["createdAt"]) and TS_RE.match(body["updatedAt"]), body)
        created = dt.datetime.fromisoformat(body["createdAt"].replace("Z", "+00:00"))
        R.check("created_days_ago = 45", abs((now - created).total_seconds() - 45 * 86400) < 120, body["createdAt"])
        m = emu.client("macie2", "us-east-1", cr(STAGING))
        R.check("boto3 parses createdAt", isinstance(m.get_macie_session()["createdAt"], dt.datetime))
        R.check("no repository: {}", {k: v for k, v in m.get_classification_export_configuration().items()
                                      if k != "ResponseMetadata"} == {})
        # not enabled
        status, hdrs, data = emu.raw("GET", "macie2", "us-east-1", "/macie", cr(SANDBOX))
        R.check("not enabled: GetMacieSession 403 AccessDeniedException",
                status == 403 and hdrs.get("x-amzn-errortype") == "AccessDeniedException"
                and json.loads(data) == {"message": "Macie is not enabled."}, (status, hdrs, data))
        status, hdrs, data = emu.raw("GET", "macie2", "us-east-1", "/classification-export-configuration", cr(SANDBOX))
        R.check("not enabled: export 404 ResourceNotFoundException (U+2019)",
                status == 404 and hdrs.get("x-amzn-errortype") == "ResourceNotFoundException"
                and json.loads(data) == {"message": "Macie isn\u2019t enabled for this account."}, (status, data))
        status, hdrs, data = emu.raw("GET", "macie2", "us-east-1", "/administrator", cr(SANDBOX))
        R.check("not enabled: GetAdministratorAccount 403", status == 403
                and hdrs.get("x-amzn-errortype") == "AccessDeniedException", (status, data))
        # export configuration as seeded
        pm = emu.client("macie2", "us-east-1", cr(PROD_PAYMENTS))
        dest = pm.get_classification_export_configuration()["configuration"]["s3Destination"]
        R.check("export: bucket/prefix/owner", dest.get("bucketName") == CENTRAL_USE1 and dest.get("keyPrefix") ==
                "macie/" and dest.get("expectedBucketOwner") == LOG_ARCHIVE, dest)
        R.check("export: key reference resolved", re.fullmatch(
            rf"arn:aws:kms:us-east-1:{LOG_ARCHIVE}:key/[0-9a-f-]{{36}}", dest.get("kmsKeyArn", "")), dest)
        dest2 = emu.client("macie2", "us-east-1", cr(MGMT)).get_classification_export_configuration()[
            "configuration"]["s3Destination"]
        R.check("export: no expectedBucketOwner unless set", "expectedBucketOwner" not in dest2, dest2)
        R.check("PAUSED session", emu.client("macie2", "us-east-1", cr(LEGACY)).get_macie_session()["status"] == "PAUSED")
        adm = emu.client("macie2", "us-east-1", cr(MEMBER)).get_administrator_account()
        R.check("member: administrator", adm.get("administrator", {}).get("accountId") == SECURITY
                and adm["administrator"].get("relationshipStatus") == "Enabled", adm)
        R.check("non-member: GetAdministratorAccount {}",
                {k: v for k, v in pm.get_administrator_account().items() if k != "ResponseMetadata"} == {})
        members = emu.client("macie2", "us-east-1", cr(SECURITY)).list_members()["members"]
        R.check("administrator: ListMembers", [x["accountId"] for x in members] == [MEMBER], members)
        R.check("Macie state is per Region",
                err(lambda: emu.client("macie2", "eu-west-1", cr(STAGING)).get_macie_session())[1]
                == "AccessDeniedException")
        # lifecycle on the sandbox account in us-east-2
        sm = emu.client("macie2", "us-east-2", cr(SANDBOX))
        status, code, msg, _ = err(lambda: sm.put_classification_export_configuration(
            configuration={"s3Destination": {"bucketName": "b", "kmsKeyArn": "arn:aws:kms:us-east-2:1:key/x"}}))
        R.check("Put export when not enabled -> 403", (status, code, msg) ==
                (403, "AccessDeniedException", "Macie is not enabled."), (status, code, msg))
        sm.enable_macie()
        status, code, msg, _ = err(lambda: sm.enable_macie())
        R.check("EnableMacie twice -> 409 ConflictException", (status, code) == (409, "ConflictException"), (status, code))
        status, hdrs, data = emu.raw("PUT", "macie2", "us-east-2", "/classification-export-configuration", cr(SANDBOX),
                                     json.dumps({"configuration": {"s3Destination": {"bucketName": "b"}}}).encode(),
                                     {"Content-Type": "application/json"})
        R.check("Put export without kmsKeyArn -> 400 ValidationException",
                status == 400 and hdrs.get("x-amzn-errortype") == "ValidationException", (status, data))
        conf = {"s3Destination": {"bucketName": "sandbox-results", "keyPrefix": "p/",
                                  "kmsKeyArn": "arn:aws:kms:us-east-2:160738294518:key/1234"}}
        r = sm.put_classification_export_configuration(configuration=conf)
        R.check("Put export echoes configuration", r["configuration"] == conf, r)
        R.check("Get export after put", sm.get_classification_export_configuration()["configuration"] == conf)
        sm.update_macie_session(status="PAUSED")
        R.check("UpdateMacieSession PAUSED", sm.get_macie_session()["status"] == "PAUSED")
        sm.disable_macie()
        R.check("DisableMacie -> not enabled", err(lambda: sm.get_macie_session())[:2] == (403, "AccessDeniedException"))
        sm.enable_macie()
        R.check("DisableMacie cleared export", {k: v for k, v in sm.get_classification_export_configuration().items()
                                                if k != "ResponseMetadata"} == {})
        status, body = emu.control("POST", "/_emulator/macie", {"account": SANDBOX, "region": "us-east-2",
                                                                "created_at": "2025-01-02T03:04:05Z"})
        R.check("control: set createdAt", status == 200 and sm.get_macie_session()["createdAt"] ==
                dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), body)
        status, _, data = emu.raw("GET", "macie2", "us-east-2", "/no-such-route", cr(SANDBOX))
        R.check("unknown macie2 route -> 404", status == 404, (status, data))

    def disabled_region() -> None:
        c = cr(EMEA)
        status, hdrs, data = emu.raw("GET", "macie2", "af-south-1", "/macie", c)
        R.check("disabled Region: macie2 403 UnrecognizedClientException",
                status == 403 and hdrs.get("x-amzn-errortype") == "UnrecognizedClientException"
                and json.loads(data) == {"message": "The security token included in the request is invalid."},
                (status, hdrs, data))
        status, hdrs, data = emu.raw("POST", "kms", "af-south-1", "/", c, b"{}",
                                     {"X-Amz-Target": "TrentService.ListKeys",
                                      "Content-Type": "application/x-amz-json-1.1"})
        R.check("disabled Region: kms 403 json", status == 403 and json.loads(data) == {
            "__type": "UnrecognizedClientException",
            "message": "The security token included in the request is invalid."}, (status, data))
        status, code, msg, _ = err(lambda: emu.client("sts", "af-south-1", c).get_caller_identity())
        R.check("disabled Region: sts RegionDisabledException", (status, code) == (403, "RegionDisabledException")
                and msg.startswith(f"STS is not activated in this region for account:{EMEA}."), (status, code, msg))
        status, code, msg, _ = err(lambda: emu.client("s3", "af-south-1", c).list_buckets())
        R.check("disabled Region: s3 400 InvalidToken", (status, code) == (400, "InvalidToken"), (status, code, msg))
        R.check("same account, enabled Region works",
                emu.client("macie2", "eu-west-1", c).get_macie_session()["status"] == "ENABLED")
        status, code, msg, _ = err(lambda: emu.client("macie2", "af-south-1", cr(PROD_PAYMENTS)).get_macie_session())
        R.check("other account in af-south-1: just not enabled", (status, code) == (403, "AccessDeniedException")
                and msg == "Macie is not enabled.", (status, code, msg))
        status, body = emu.control("GET", "/_emulator/rules")
        R.check("control: rules", body["disabled_regions"].get(EMEA) == ["af-south-1"]
                and PARTNER in body["deny_assume_role"], body)

    def kms() -> None:
        member = emu.client("kms", "us-east-1", cr(PROD_PAYMENTS))
        arn = emu.client("macie2", "us-east-1", cr(PROD_PAYMENTS)).get_classification_export_configuration()[
            "configuration"]["s3Destination"]["kmsKeyArn"]
        md = member.describe_key(KeyId=arn)["KeyMetadata"]
        R.check("cross-account DescribeKey allowed by key policy", md["Arn"] == arn and md["KeyManager"] == "CUSTOMER"
                and md["KeyState"] == "Enabled" and md["KeySpec"] == "SYMMETRIC_DEFAULT", md)
        R.check("cross-account GetKeyRotationStatus", member.get_key_rotation_status(KeyId=arn)["KeyRotationEnabled"])
        status, code, msg, _ = err(lambda: member.get_key_policy(KeyId=arn, PolicyName="default"))
        R.check("cross-account GetKeyPolicy -> AccessDeniedException", (status, code) == (400, "AccessDeniedException"),
                (status, code, msg))
        dp_key = emu.client("macie2", "us-east-1", cr(DATA_PLATFORM)).get_classification_export_configuration()[
            "configuration"]["s3Destination"]["kmsKeyArn"]
        status, code, msg, _ = err(lambda: member.describe_key(KeyId=dp_key))
        R.check("cross-account DescribeKey without policy grant -> denied", code == "AccessDeniedException", (code, msg))
        owner = emu.client("kms", "us-east-1", cr(LOG_ARCHIVE))
        pol = json.loads(owner.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
        R.check("key policy placeholders substituted", pol["Statement"][0]["Principal"]["AWS"] ==
                f"arn:aws:iam::{LOG_ARCHIVE}:root" and pol["Statement"][2]["Condition"]["StringEquals"][
                    "aws:PrincipalOrgID"].startswith("o-"), pol)
        status, _, data = emu.raw("POST", "kms", "us-east-1", "/", cr(LOG_ARCHIVE),
                                  json.dumps({"KeyId": arn}).encode(),
                                  {"X-Amz-Target": "TrentService.GetKeyPolicy",
                                   "Content-Type": "application/x-amz-json-1.1"})
        R.check("GetKeyPolicy without PolicyName", status == 200 and "Policy" in json.loads(data), (status, data))
        R.check("alias resolves", owner.describe_key(KeyId="alias/macie-discovery-results")["KeyMetadata"]["Arn"] == arn)
        default_key = owner.create_key(Description="no KeyUsage given")["KeyMetadata"]
        described = owner.describe_key(KeyId=default_key["KeyId"])["KeyMetadata"]
        R.check("CreateKey without KeyUsage: ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT",
                (described.get("KeyUsage"), described.get("KeySpec"), default_key.get("KeyUsage")) ==
                ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), described)
        R.check("alias/aws/s3 is AWS managed",
                owner.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["KeyManager"] == "AWS")
        other_region = emu.client("kms", "us-east-1", cr(LOG_ARCHIVE)).list_aliases()["Aliases"]
        R.check("keys are per Region", not any(a.get("TargetKeyId") and "eu-west-1" in a.get("AliasArn", "")
                                               for a in other_region))

    def s3() -> None:
        own = emu.client("s3", "us-east-1", cr(LOG_ARCHIVE))
        R.check("GetBucketLocation us-east-1 -> null", own.get_bucket_location(Bucket=CENTRAL_USE1).get(
            "LocationConstraint") is None)
        R.check("GetBucketLocation eu-west-1", own.get_bucket_location(
            Bucket="acme-macie-discovery-results-euw1")["LocationConstraint"] == "eu-west-1")
        bpa = own.get_public_access_block(Bucket=CENTRAL_USE1)["PublicAccessBlockConfiguration"]
        R.check("Block Public Access all four", all(bpa.values()) and len(bpa) == 4, bpa)
        enc = own.get_bucket_encryption(Bucket=CENTRAL_USE1)["ServerSideEncryptionConfiguration"]["Rules"][0]
        R.check("default encryption with the scenario key", enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] ==
                "aws:kms" and enc["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"].startswith(
                    f"arn:aws:kms:us-east-1:{LOG_ARCHIVE}:key/"), enc)
        pol = json.loads(own.get_bucket_policy(Bucket=CENTRAL_USE1)["Policy"])
        R.check("bucket policy placeholders substituted",
                pol["Statement"][1]["Resource"] == f"arn:aws:s3:::{CENTRAL_USE1}/macie/*" and
                pol["Statement"][4]["Condition"]["StringNotEquals"][
                    "s3:x-amz-server-side-encryption-aws-kms-key-id"].startswith("arn:aws:kms:us-east-1:"), pol)
        R.check("versioning", own.get_bucket_versioning(Bucket=CENTRAL_USE1).get("Status") == "Enabled")
        status, _, data = emu.raw("GET", "s3", "us-east-1", f"/{CENTRAL_USE1}", cr(LOG_ARCHIVE), query="versioning")
        R.check("GetBucketVersioning root element VersioningConfiguration",
                re.search(rb"<VersioningConfiguration[ >].*</VersioningConfiguration>", data, re.S), data)
        R.check("no object lock -> error", err(lambda: own.get_object_lock_configuration(Bucket=CENTRAL_USE1))[1] ==
                "ObjectLockConfigurationNotFoundError")
        keys = [o["Key"] for o in own.list_objects_v2(Bucket=CENTRAL_USE1, Prefix="macie/AWSLogs/")["Contents"]]
        R.check("seeded result objects", len(keys) == 3, keys)
        own.put_object(Bucket=CENTRAL_USE1, Key="macie/probe.txt", Body=b"hello world")
        R.check("PutObject/GetObject under a TLS-deny policy",
                own.get_object(Bucket=CENTRAL_USE1, Key="macie/probe.txt")["Body"].read() == b"hello world")
        member = emu.client("s3", "us-east-1", cr(PROD_PAYMENTS))
        status, code, msg, _ = err(lambda: member.get_bucket_policy(Bucket=CENTRAL_USE1))
        R.check("S3 isolated per account (cross-account 403)", (status, code) == (403, "AccessDenied"), (status, code))
        R.check("HeadBucket missing -> 404", err(lambda: member.head_bucket(Bucket="no-such-bucket-here"))[0] == 404)
        R.check("ListBuckets per account", [b["Name"] for b in member.list_buckets()["Buckets"]] == [])
        staging = emu.client("s3", "us-east-1", cr(STAGING))
        staging.create_bucket(Bucket="staging-plain")
        R.check("no policy -> NoSuchBucketPolicy",
                err(lambda: staging.get_bucket_policy(Bucket="staging-plain"))[1] == "NoSuchBucketPolicy")
        R.check("no BPA -> NoSuchPublicAccessBlockConfiguration",
                err(lambda: staging.get_public_access_block(Bucket="staging-plain"))[1] ==
                "NoSuchPublicAccessBlockConfiguration")

    def faults() -> None:
        c = cr(PROD_PAYMENTS)
        emu.control("POST", "/_emulator/counters/reset")
        emu.faults(throttle_fraction=1.0, seed=3)
        R.check("GET faults", emu.control("GET", "/_emulator/faults")[1]["throttle_fraction"] == 1.0)
        R.check("control routes never faulted", emu.control("GET", "/_emulator/health")[0] == 200)
        status, hdrs, data = emu.raw("GET", "macie2", "us-east-1", "/macie", c)
        R.check("throttle macie2: 429 ThrottlingException", status == 429 and
                hdrs.get("x-amzn-errortype") == "ThrottlingException", (status, hdrs))
        status, code, _, _ = err(lambda: emu.client("organizations", "us-east-1", STATIC).list_accounts())
        R.check("throttle organizations: 400 TooManyRequestsException", (status, code) ==
                (400, "TooManyRequestsException"), (status, code))
        status, code, _, _ = err(lambda: emu.client("kms", "us-east-1", c).list_keys())
        R.check("throttle kms: 400 ThrottlingException", (status, code) == (400, "ThrottlingException"), (status, code))
        status, code, msg, _ = err(lambda: emu.client("sts", "us-east-1", c).get_caller_identity())
        R.check("throttle sts: 400 Throttling Rate exceeded", (status, code, msg) == (400, "Throttling", "Rate exceeded"),
                (status, code, msg))
        status, code, _, _ = err(lambda: emu.client("s3", "us-east-1", c).list_buckets())
        R.check("throttle s3: 503 SlowDown", (status, code) == (503, "SlowDown"), (status, code))
        emu.faults(error_fraction=1.0)
        status, hdrs, data = emu.raw("GET", "macie2", "us-east-1", "/macie", c)
        R.check("5xx macie2: InternalServerException", status == 500 and
                hdrs.get("x-amzn-errortype") == "InternalServerException", (status, hdrs))
        for service, call, want in [
            ("organizations", lambda: emu.client("organizations", "us-east-1", STATIC).list_accounts(), "ServiceException"),
            ("kms", lambda: emu.client("kms", "us-east-1", c).list_keys(), "KMSInternalException"),
            ("sts", lambda: emu.client("sts", "us-east-1", c).get_caller_identity(), "InternalFailure"),
            ("s3", lambda: emu.client("s3", "us-east-1", c).list_buckets(), "InternalError"),
        ]:
            status, code, _, _ = err(call)
            R.check(f"5xx {service}: 500 {want}", (status, code) == (500, want), (status, code))
        # faulted requests do not change state
        emu.faults(error_fraction=1.0, operations=["macie2:UpdateMacieSession"])
        pm = emu.client("macie2", "us-east-1", c)
        R.check("faulted UpdateMacieSession -> 500", err(lambda: pm.update_macie_session(status="PAUSED"))[0] == 500)
        R.check("operations filter: other ops unaffected", pm.get_macie_session()["status"] == "ENABLED")
        counters = emu.counters()
        R.check("faulted counted separately and in operations",
                counters["faulted"].get("macie2:UpdateMacieSession") == 1 and
                counters["operations"].get("macie2:UpdateMacieSession") == 1 and
                counters["faulted"].get("macie2:GetMacieSession") == 2, counters)
        # determinism
        def pattern() -> list[int]:
            emu.faults(throttle_fraction=0.3, error_fraction=0.2, seed=42, operations=["macie2:GetMacieSession"])
            return [emu.raw("GET", "macie2", "us-east-1", "/macie", c)[0] for _ in range(30)]
        p1, p2 = pattern(), pattern()
        R.check("seeded faults are reproducible", p1 == p2 and {200, 429, 500} <= set(p1), p1)
        emu.faults(latency_ms=300, operations=["kms:ListKeys"])
        k = emu.client("kms", "us-east-1", c)
        t = time.time()
        k.list_keys()
        slow = time.time() - t
        t = time.time()
        pm.get_macie_session()
        fast = time.time() - t
        R.check("latency injected on listed operation only", slow >= 0.3 and fast < 0.25, (slow, fast))
        status, body = emu.control("POST", "/_emulator/faults", {"throttle_fraction": 2})
        R.check("invalid fault settings -> 400", status == 400, body)
        emu.faults()
        R.check("faults off", emu.control("GET", "/_emulator/faults")[1] == {
            "latency_ms": 0, "throttle_fraction": 0.0, "error_fraction": 0.0, "seed": 1, "operations": None})

    def counters() -> None:
        emu.control("POST", "/_emulator/counters/reset")
        R.check("reset zeroes", emu.counters() == {"operations": {}, "faulted": {}, "by_account": {},
                                                    "assume_role_targets": {}, "expired": {}, "expired_by_account": {}})
        fresh = emu.session_creds(ANALYTICS)  # one AssumeRole by the management account
        emu.client("macie2", "us-east-1", fresh).get_macie_session()
        emu.client("s3", "us-east-1", fresh).list_buckets()
        err(lambda: emu.client("sts", "us-east-1", STATIC).assume_role(
            RoleArn=f"arn:aws:iam::{PARTNER}:role/OrganizationAccountAccessRole", RoleSessionName="x3"))
        c = emu.counters()
        R.check("operations", c["operations"] == {"macie2:GetMacieSession": 1, "s3:ListBuckets": 1,
                                                  "sts:AssumeRole": 2}, c)
        R.check("by_account", c["by_account"] == {MGMT: {"sts:AssumeRole": 2},
                                                  ANALYTICS: {"macie2:GetMacieSession": 1, "s3:ListBuckets": 1}}, c)
        R.check("assume_role_targets", c["assume_role_targets"] == {ANALYTICS: 1, PARTNER: 1}, c)
        R.check("operation labels (s3)", label_checks(emu, cr(LOG_ARCHIVE)), "")

    def concurrency() -> None:
        emu.control("POST", "/_emulator/counters/reset")
        clients = {a: (emu.client("macie2", "us-east-1", cr(a)), emu.client("kms", "us-east-1", cr(a)),
                       emu.client("s3", "us-east-1", cr(a)))
                   for a in (PROD_PAYMENTS, LOG_ARCHIVE, STAGING, MGMT)}
        org = emu.client("organizations", "us-east-1", STATIC)

        def work(i: int) -> bool:
            acct = list(clients)[i % 4]
            m, k, s = clients[acct]
            kind = i % 4
            if kind == 0:
                return m.get_macie_session()["status"] == "ENABLED"
            if kind == 1:
                return isinstance(k.list_keys()["Keys"], list)
            if kind == 2:
                return isinstance(s.list_buckets()["Buckets"], list)
            return len(org.list_accounts()["Accounts"]) == 14

        t = time.time()
        with cf.ThreadPoolExecutor(48) as ex:
            results = list(ex.map(work, range(400)))
        elapsed = time.time() - t
        R.check("400 parallel requests succeed", all(results), results.count(False))
        total = sum(emu.counters()["operations"].values())
        R.check("counters exact under concurrency", total == 400, total)
        print(f"    400 parallel requests in {elapsed:.2f}s")

    def keep_alive() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
        statuses = [emu.raw("GET", "macie2", "us-east-1", "/macie", cr(STAGING), conn=conn)[0] for _ in range(3)]
        statuses.append(emu.raw("PUT", "s3", "us-east-1", f"/{CENTRAL_USE1}/macie/ka.txt", cr(LOG_ARCHIVE),
                                b"x" * 1000, conn=conn)[0])
        statuses.append(emu.raw("GET", "s3", "us-east-1", f"/{CENTRAL_USE1}/macie/ka.txt", cr(LOG_ARCHIVE),
                                conn=conn)[0])
        conn.close()
        R.check("keep-alive: several requests on one connection", statuses == [200] * 5, statuses)

    def credentials() -> None:
        status, body = emu.control("POST", "/_emulator/credentials", {"lifetime_seconds": 0})
        R.check("credentials: lifetime 0 -> 400", status == 400, (status, body))
        status, body = emu.control("POST", "/_emulator/credentials", {"bogus": 1})
        R.check("credentials: unknown key -> 400", status == 400, (status, body))
        emu.control("POST", "/_emulator/counters/reset")
        emu.control("POST", "/_emulator/credentials", {"lifetime_seconds": 1.0})
        sts = emu.client("sts", "us-east-1", STATIC)
        issued = time.time()
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{ANALYTICS}:role/OrganizationAccountAccessRole",
                            RoleSessionName="selfcheck-short")["Credentials"]
        lifetime = c["Expiration"].timestamp() - issued
        R.check("lifetime_seconds: Expiration about 1 s after issue", 0.5 < lifetime < 1.5, lifetime)
        short = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        R.check("a session is accepted until it ends",
                emu.client("sts", "us-east-1", short).get_caller_identity()["Account"] == ANALYTICS)
        time.sleep(max(0.0, c["Expiration"].timestamp() - time.time()) + 0.1)
        status, hdrs, data = emu.raw("POST", "sts", "us-east-1", "/", short,
                                     b"Action=GetCallerIdentity&Version=2011-06-15",
                                     {"Content-Type": "application/x-www-form-urlencoded"})
        R.check("ended session: STS 400 query XML ExpiredToken",
                status == 400 and xml_field(data, "Code") == "ExpiredToken", (status, data[:300]))
        code = err(lambda: emu.client("s3", "us-east-1", short).list_buckets())[:2]
        R.check("ended session: S3 400 ExpiredToken", code == (400, "ExpiredToken"), code)
        status, hdrs, data = emu.raw("POST", "kms", "us-east-1", "/", short, b"{}",
                                     {"X-Amz-Target": "TrentService.ListKeys",
                                      "Content-Type": "application/x-amz-json-1.1"})
        R.check("ended session: KMS 400 Coral ExpiredTokenException",
                status == 400 and json.loads(data).get("__type") == "com.amazon.coral.service#ExpiredTokenException"
                and hdrs.get("x-amzn-errortype", "").startswith("ExpiredTokenException:"), (status, data[:300]))
        emu.control("POST", "/_emulator/credentials", {"expire_after_uses": 1, "accounts": [ANALYTICS]})
        cut = emu.session_creds(ANALYTICS)
        macie = emu.client("macie2", "us-east-1", cut)
        macie.get_macie_session()
        code = err(lambda: macie.get_macie_session())[:2]
        R.check("expire_after_uses: refused after that many requests (rest-json 403)",
                code == (403, "ExpiredTokenException"), code)
        R.check("other accounts' sessions are not cut",
                emu.client("s3", "us-east-1", emu.session_creds(LOG_ARCHIVE)).list_buckets() is not None)
        c = emu.counters()
        R.check("expired counters", c["expired_by_account"] == {ANALYTICS: 4}, c["expired"])
        emu.control("POST", "/_emulator/credentials", {})

    for name, fn in [("startup and control API", startup), ("organizations", organizations), ("sts", sts),
                     ("macie", macie), ("disabled opt-in Region", disabled_region), ("kms", kms), ("s3", s3),
                     ("faults", faults), ("counters", counters), ("concurrency", concurrency),
                     ("keep-alive", keep_alive), ("credentials", credentials)]:
        R.run(name, fn)


def label_checks(emu: Emulator, creds: tuple) -> bool:
    emu.control("POST", "/_emulator/counters/reset")
    s3 = emu.client("s3", "us-east-1", creds)
    s3.head_bucket(Bucket=CENTRAL_USE1)
    s3.get_bucket_location(Bucket=CENTRAL_USE1)
    s3.get_bucket_policy(Bucket=CENTRAL_USE1)
    s3.get_public_access_block(Bucket=CENTRAL_USE1)
    s3.get_bucket_policy_status(Bucket=CENTRAL_USE1)
    s3.get_bucket_encryption(Bucket=CENTRAL_USE1)
    s3.get_bucket_versioning(Bucket=CENTRAL_USE1)
    err(lambda: s3.get_object_lock_configuration(Bucket=CENTRAL_USE1))
    s3.put_object(Bucket=CENTRAL_USE1, Key="macie/l.txt", Body=b"1")
    s3.list_objects_v2(Bucket=CENTRAL_USE1)
    ops = set(emu.counters()["operations"])
    want = {"s3:HeadBucket", "s3:GetBucketLocation", "s3:GetBucketPolicy", "s3:GetPublicAccessBlock",
            "s3:GetBucketPolicyStatus", "s3:GetBucketEncryption", "s3:GetBucketVersioning",
            "s3:GetObjectLockConfiguration", "s3:PutObject", "s3:ListObjectsV2"}
    if ops != want:
        print(f"    labels: got {sorted(ops)}")
    return ops == want


# ------------------------------------------------------------------------------------------------
# a large generated scenario (via POST /_emulator/scenario, JSON) and a standalone one
# ------------------------------------------------------------------------------------------------

HOSTILE = ["<script>alert('x')</script>", 'quote " and \\ backslash', "new\nline\ttab", "emoji \U0001F600 ünï",
           "'; DROP TABLE accounts; --", "{{template}} ${var} %s", "  spaced  ", "\u202eRTL override"]


def big_checks(emu: Emulator) -> None:
    accounts: list[dict] = []
    for i in range(45):
        accounts.append({"id": f"{100000000000 + i * 7919:012d}", "name": HOSTILE[i % len(HOSTILE)] + f" #{i}"})
    accounts[1]["status"] = "PENDING_CLOSURE"
    accounts[2]["status"] = "SUSPENDED"
    accounts[3]["status"] = "SUSPENDED"
    accounts[3]["assume_role"] = "allow"
    owner = accounts[0]["id"]
    accounts[0]["keys"] = [
        {"alias": "aws-managed-like", "region": "us-east-1", "manager": "AWS"},
        {"alias": "disabled", "region": "us-east-1", "state": "Disabled"},
        {"alias": "doomed", "region": "us-east-1", "state": "PendingDeletion"},
        {"alias": "rsa", "region": "us-east-1", "spec": "RSA_2048"},
        {"alias": "macie", "region": "eu-west-1", "rotation": False},
    ]
    accounts[0]["buckets"] = [{"name": "locked-results", "region": "eu-west-1", "object_lock": True,
                               "block_public_access": {"block_public_acls": True, "ignore_public_acls": False,
                                                       "block_public_policy": True,
                                                       "restrict_public_buckets": False},
                               "encryption": {"sse": "AES256"}}]
    accounts[0]["account_block_public_access"] = True
    accounts[0]["macie"] = [
        {"region": "eu-west-1", "created_at": "2026-01-01T00:00:00Z",
         "export": {"bucket": "locked-results", "kms_key_arn": "key:macie"}},
        {"region": "us-east-1", "export": {"bucket": "gone",
                                           "kms_key_arn": "arn:aws:kms:us-east-1:999999999999:key/does-not-exist"}},
    ]
    scenario = {"organization": {"enabled": True, "roles": ["MacieAuditRole"]}, "accounts": accounts}

    def seed() -> None:
        t = time.time()
        status, body = emu.control("POST", "/_emulator/scenario", scenario)
        print(f"    seeded 45 accounts in {time.time() - t:.1f}s")
        R.check("POST /_emulator/scenario (JSON)", status == 200 and len(body["accounts"]) == 45, (status, body))
        R.check("counters reset after seeding", sum(emu.counters()["operations"].values()) == 0)

    def listing() -> None:
        org = emu.client("organizations", "us-east-1", STATIC)
        pages: list[int] = []
        seen: list[dict] = []
        for page in org.get_paginator("list_accounts").paginate():
            pages.append(len(page["Accounts"]))
            seen += page["Accounts"]
        R.check("ListAccounts default page size 20", pages == [20, 20, 6], pages)
        R.check("no duplicates across pages", len({a["Id"] for a in seen}) == 46)
        by_id = {a["Id"]: a for a in seen}
        R.check("hostile names round-trip", all(by_id[a["id"]]["Name"] == a["name"] for a in accounts),
                [(by_id[a["id"]]["Name"], a["name"]) for a in accounts if by_id[a["id"]]["Name"] != a["name"]][:3])
        R.check("PENDING_CLOSURE", by_id[accounts[1]["id"]]["Status"] == "PENDING_CLOSURE" and
                by_id[accounts[1]["id"]].get("State") == "PENDING_CLOSURE", by_id[accounts[1]["id"]])
        R.check("default management name", by_id[MGMT]["Name"] == "master", by_id[MGMT])
        sts = emu.client("sts", "us-east-1", STATIC)
        role = f"arn:aws:iam::{accounts[1]['id']}:role/OrganizationAccountAccessRole"
        R.check("PENDING_CLOSURE: AssumeRole denied by default",
                err(lambda: sts.assume_role(RoleArn=role, RoleSessionName="xx"))[1] == "AccessDenied")
        role = f"arn:aws:iam::{accounts[3]['id']}:role/OrganizationAccountAccessRole"
        R.check("SUSPENDED with assume_role=allow", sts.assume_role(RoleArn=role, RoleSessionName="xx")[
            "AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{accounts[3]['id']}:"))
        role = f"arn:aws:iam::{accounts[5]['id']}:role/MacieAuditRole"
        R.check("[organization] roles created in every account",
                sts.assume_role(RoleArn=role, RoleSessionName="xx")["Credentials"]["AccessKeyId"] != "")
        for role in ("arn:aws:iam::999999999999:role/OrganizationAccountAccessRole",
                     f"arn:aws:iam::{accounts[5]['id']}:role/NoSuchRole",
                     f"arn:aws:iam::{MGMT}:role/OrganizationAccountAccessRole"):
            R.check(f"AssumeRole into a missing role denied ({role})",
                    err(lambda: sts.assume_role(RoleArn=role, RoleSessionName="xx"))[:2] == (403, "AccessDenied"))

    def resources() -> None:
        c = emu.session_creds(owner)
        kms = emu.client("kms", "us-east-1", c)
        md = lambda alias: kms.describe_key(KeyId=f"alias/{alias}")["KeyMetadata"]  # noqa: E731
        R.check("manager = AWS", md("aws-managed-like")["KeyManager"] == "AWS")
        R.check("state Disabled", md("disabled")["KeyState"] == "Disabled" and not md("disabled")["Enabled"])
        R.check("state PendingDeletion", md("doomed")["KeyState"] == "PendingDeletion")
        R.check("spec RSA_2048", md("rsa")["KeySpec"] == "RSA_2048" and md("rsa")["KeyUsage"] == "ENCRYPT_DECRYPT")
        euk = emu.client("kms", "eu-west-1", c)
        eu_arn = euk.describe_key(KeyId="alias/macie")["KeyMetadata"]["Arn"]
        R.check("rotation off", not euk.get_key_rotation_status(KeyId=eu_arn)["KeyRotationEnabled"])
        s3 = emu.client("s3", "eu-west-1", c)
        R.check("object lock", s3.get_object_lock_configuration(Bucket="locked-results")[
            "ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled")
        bpa = s3.get_public_access_block(Bucket="locked-results")["PublicAccessBlockConfiguration"]
        R.check("partial Block Public Access", bpa == {"BlockPublicAcls": True, "IgnorePublicAcls": False,
                                                       "BlockPublicPolicy": True, "RestrictPublicBuckets": False}, bpa)
        R.check("SSE-S3 encryption", s3.get_bucket_encryption(Bucket="locked-results")[
            "ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
            == "AES256")
        m = emu.client("macie2", "eu-west-1", c)
        dest = m.get_classification_export_configuration()["configuration"]["s3Destination"]
        R.check("key:<alias> reference (same account/Region)", dest["kmsKeyArn"] ==
                euk.describe_key(KeyId="alias/macie")["KeyMetadata"]["Arn"], dest)
        R.check("absolute created_at", m.get_macie_session()["createdAt"] ==
                dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
        dest = emu.client("macie2", "us-east-1", c).get_classification_export_configuration()[
            "configuration"]["s3Destination"]
        R.check("literal kms ARN kept", dest["kmsKeyArn"] == "arn:aws:kms:us-east-1:999999999999:key/does-not-exist"
                and "keyPrefix" not in dest, dest)
        status, hdrs, data = emu.raw("GET", "s3", "us-east-1", "/v20180820/configuration/publicAccessBlock", c,
                                     headers={"x-amz-account-id": owner})
        R.check("account-level Block Public Access (s3control)", status == 200 and b"<BlockPublicAcls>true" in data,
                (status, data[:300]))

    for name, fn in [("seed large scenario", seed), ("pagination and hostile names", listing),
                     ("key/bucket variants", resources)]:
        R.run(name, fn)


def standalone_checks(emu: Emulator) -> None:
    def run() -> None:
        toml = ('[organization]\nenabled = false\n\n[[accounts]]\nid = "123456789012"\nname = "solo"\n\n'
                '[[accounts.macie]]\nregion = "us-east-1"\ncreated_days_ago = 3\n')
        status, body = emu.control("POST", "/_emulator/scenario", toml, "application/toml")
        R.check("TOML scenario via POST", status == 200, body)
        for op in ("ListAccounts", "DescribeOrganization"):
            status, hdrs, data = emu.raw("POST", "organizations", "us-east-1", "/", STATIC, b"{}",
                                         {"X-Amz-Target": f"AWSOrganizationsV20161128.{op}",
                                          "Content-Type": "application/x-amz-json-1.1"})
            body = json.loads(data)
            R.check(f"no organization: {op} -> AWSOrganizationsNotInUseException",
                    status == 400 and body.get("__type") == "AWSOrganizationsNotInUseException"
                    and body.get("Message") == "Your account is not a member of an organization.", (status, body))
        R.check("standalone Macie", emu.client("macie2", "us-east-1", STATIC).get_macie_session()["status"] == "ENABLED")
        status, body = emu.control("POST", "/_emulator/scenario", {"accounts": [{"id": "1", "name": "x"}]})
        R.check("invalid scenario -> 400", status == 400 and "12-digit" in body.get("error", ""), body)

    R.run("standalone account (no organization)", run)


def main() -> int:
    t0 = time.time()
    emulators: list[Emulator] = []
    try:
        print("starting emulator with the demo scenario")
        demo = Emulator(DEMO)
        emulators.append(demo)
        print(f"    READY after {demo.startup:.1f}s")
        demo_checks(demo)

        print("starting emulator for a large generated scenario")
        big = Emulator()
        emulators.append(big)
        big_checks(big)

        print("starting emulator for a standalone account")
        solo = Emulator()
        emulators.append(solo)
        standalone_checks(solo)

        def shutdown() -> None:
            for emu in emulators:
                pid_file_existed = os.path.exists(emu.pid_file)
                code = emu.stop()
                R.check(f"SIGTERM: clean exit (port {emu.port})", code == 0, (code, "".join(emu.stderr)[-1500:]))
                R.check("pid file written and removed", pid_file_existed and not os.path.exists(emu.pid_file))
                R.check("no tracebacks on stderr", not any("Traceback" in line for line in emu.stderr),
                        "".join(emu.stderr)[-3000:])

        R.run("shutdown", shutdown)
    finally:
        for emu in emulators:
            if emu.proc.poll() is None:
                emu.proc.kill()
    print(f"({time.time() - t0:.1f}s)")
    print(f"{R.passed} passed, {R.failed} failed")
    return 0 if R.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
