#!/usr/bin/env python3
"""AWS emulator for macie-audit's tests: moto server + a fidelity layer + a control API.

    python tests/emulator/emulator.py --port PORT [--host 127.0.0.1] [--scenario FILE.toml]
                                      [--pid-file PATH] [--quiet | --verbose]

Prints exactly one line ``READY http://HOST:PORT`` on stdout once it serves requests and the
optional scenario is seeded.  See README.md beside this file for the control API, the scenario
format and the list of moto gaps the layer fixes.
"""

from __future__ import annotations

import os
import sys

# Must happen before moto is imported: S3 isolated per account, and the account of a request
# comes from its access key (never from a fixed MOTO_ACCOUNT_ID).
os.environ["MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS"] = "false"
os.environ.pop("MOTO_ACCOUNT_ID", None)

import argparse  # noqa: E402
import collections  # noqa: E402
import datetime as dt  # noqa: E402
import fnmatch  # noqa: E402
import functools  # noqa: E402
import http  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402
import traceback  # noqa: E402
import uuid  # noqa: E402
import warnings  # noqa: E402
from typing import Any, Callable, Iterable  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402
from xml.sax.saxutils import escape as xml_escape  # noqa: E402

warnings.filterwarnings("ignore")

import botocore.loaders  # noqa: E402
import moto.organizations.utils as org_utils  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.iam.models import get_account_id_from, iam_backends  # noqa: E402
from moto.kms import models as kms_models  # noqa: E402
from moto.kms.models import kms_backends  # noqa: E402
from moto.organizations.models import organizations_backends  # noqa: E402
from moto.s3 import models as s3_models  # noqa: E402
from moto.s3control.models import s3control_backends  # noqa: E402
from moto.securityhub.models import securityhub_backends  # noqa: E402
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

MANAGEMENT_ACCOUNT_ID = DEFAULT_ACCOUNT_ID  # "123456789012", the account of static test keys
ORG_ROLE_NAME = "OrganizationAccountAccessRole"
PARTITION = "aws"

# ---------------------------------------------------------------------------------------------
# moto patches (process-wide, applied at import)
# ---------------------------------------------------------------------------------------------

# Organizations ListAccounts: AWS pages at most 20 accounts; moto defaults to 100 and uses
# JoinedTimestamp as the page-token key, which collides for accounts created in the same second.
org_utils.PAGINATION_MODEL["list_accounts"].update(limit_default=20, unique_attribute="Id")
org_utils.PAGINATION_MODEL["list_accounts_for_parent"].update(limit_default=20, unique_attribute="id")

# Explicit account ids: CreateAccount pops the next id from this queue (filled by the seeder).
_ACCOUNT_ID_QUEUE: collections.deque[str] = collections.deque()
_ACCOUNT_ID_LOCK = threading.Lock()
_original_make_random_account_id = org_utils.make_random_account_id


def _make_account_id() -> str:
    with _ACCOUNT_ID_LOCK:
        if _ACCOUNT_ID_QUEUE:
            return _ACCOUNT_ID_QUEUE.popleft()
    return _original_make_random_account_id()


org_utils.make_random_account_id = _make_account_id

# KMS: keys behind the reserved aliases (alias/aws/s3, ...) are AWS managed keys.
_original_generate_default_keys = kms_models.KmsBackend._generate_default_keys


def _generate_default_keys(self: Any, alias_name: str) -> str | None:
    key_id = _original_generate_default_keys(self, alias_name)
    if key_id and key_id in self.keys:
        self.keys[key_id].key_manager = "AWS"
    return key_id


kms_models.KmsBackend._generate_default_keys = _generate_default_keys

# KMS: CreateKey without KeyUsage stores none in moto, and DescribeKey then omits KeyUsage; AWS
# defaults it to ENCRYPT_DECRYPT (and KeySpec to SYMMETRIC_DEFAULT, which moto already does).
_original_key_init = kms_models.Key.__init__


def _key_init(self: Any, policy: str | None, key_usage: str | None, *args: Any, **kwargs: Any) -> None:
    _original_key_init(self, policy, key_usage or "ENCRYPT_DECRYPT", *args, **kwargs)


kms_models.Key.__init__ = _key_init


def _bucket_get_permission(self: Any, action: str, resource: str) -> Any:
    """Replacement for moto's FakeBucket.get_permission (used on object operations).

    moto answers DENIED for any statement whose Condition it cannot evaluate, Allow statements
    included, so the usual `Deny s3:* when aws:SecureTransport is false` statement (and every Macie
    statement with aws:SourceAccount conditions) locks the owner out of its own objects.  Here only
    a Deny statement that applies to everyone and whose conditions all hold denies; the emulator
    stands in for HTTPS AWS, so aws:SecureTransport is true; any other condition key is unknown
    and the statement is taken not to apply."""
    from moto.iam.access_control import PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    try:
        policy = json.loads(self.policy)
    except ValueError:
        return PermissionResult.NEUTRAL
    for st in _as_list(policy.get("Statement")):
        if not isinstance(st, dict) or str(st.get("Effect", "")).lower() != "deny" or "NotAction" in st:
            continue
        principal = st.get("Principal")
        if not (principal == "*" or (isinstance(principal, dict) and principal.get("AWS") in ("*", ["*"]))):
            continue
        if not action_matches(st.get("Action"), action):
            continue
        if not any(fnmatch.fnmatchcase(resource, str(r)) for r in _as_list(st.get("Resource"))):
            continue
        if _conditions_hold(st.get("Condition")):
            return PermissionResult.DENIED
    return PermissionResult.NEUTRAL


def _conditions_hold(conditions: Any) -> bool:
    if not conditions:
        return True
    if not isinstance(conditions, dict):
        return False
    for operator, entries in conditions.items():
        if not isinstance(entries, dict):
            return False
        for key, expected in entries.items():
            if operator == "Bool" and key.lower() == "aws:securetransport":
                if "true" not in [str(v).lower() for v in _as_list(expected)]:
                    return False
            else:
                return False
    return True


s3_models.FakeBucket.get_permission = _bucket_get_permission


class CachingDispatcher(DomainDispatcherApplication):
    """moto's dispatcher matches a host against hundreds of URL regexes per request: memoise."""

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one instance per process
    def get_backend_for_host(self, host: str | None) -> Any:
        return super().get_backend_for_host(host)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso_ms(t: dt.datetime) -> str:
    """RFC 3339 UTC with milliseconds and Z, e.g. 2026-10-01T12:00:00.000Z."""
    t = t.astimezone(dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, dt.date):
        t = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        s = value.strip()
        if s.endswith("Z") or s.endswith("z"):
            s = s[:-1] + "+00:00"
        t = dt.datetime.fromisoformat(s)
    else:
        raise ValueError(f"not a timestamp: {value!r}")
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc)


def new_request_id() -> str:
    return str(uuid.uuid4())


def status_line(code: int) -> str:
    try:
        return f"{code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


class Reply:
    """A complete HTTP answer produced by the layer."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def send(self, start_response: Callable, head: bool = False) -> Iterable[bytes]:
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(self.body))))
        start_response(status_line(self.status), headers)
        return [b"" if head else self.body]


def json_reply(status: int, obj: Any, extra: list[tuple[str, str]] | None = None,
               content_type: str = "application/json") -> Reply:
    rid = new_request_id()
    headers = [("Content-Type", content_type), ("x-amzn-RequestId", rid)]
    headers += extra or []
    return Reply(status, headers, json.dumps(obj, ensure_ascii=False).encode("utf-8"))


# --- protocol-specific error builders ------------------------------------------------------------

PROTO_S3 = "s3"          # restXml
PROTO_JSON = "json"      # awsJson1.0 / 1.1 (X-Amz-Target)
PROTO_QUERY = "query"    # awsQuery (Action=...)
PROTO_REST_JSON = "rest-json"

QUERY_NS = {
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
}


def rest_json_error(status: int, code: str, message: str) -> Reply:
    return json_reply(status, {"message": message}, [("x-amzn-ErrorType", code)])


def json_error(status: int, code: str, message: str, extra: dict | None = None,
               message_key: str = "message") -> Reply:
    """awsJson1.1 error.  Organizations spells the member `Message`, KMS `message`."""
    body = {"__type": code, message_key: message}
    body.update(extra or {})
    return json_reply(status, body, [("x-amzn-ErrorType", code)], "application/x-amz-json-1.1")


def query_error(status: int, service: str, code: str, message: str, sender: bool = True) -> Reply:
    rid = new_request_id()
    ns = QUERY_NS.get(service, f"https://{service}.amazonaws.com/doc/")
    xml = (
        f'<ErrorResponse xmlns="{ns}"><Error><Type>{"Sender" if sender else "Receiver"}</Type>'
        f"<Code>{xml_escape(code)}</Code><Message>{xml_escape(message)}</Message></Error>"
        f"<RequestId>{rid}</RequestId></ErrorResponse>"
    )
    return Reply(status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], xml.encode("utf-8"))


def s3_error(status: int, code: str, message: str, resource: str = "", extra: str = "") -> Reply:
    """S3's error document; `extra` is further elements, already XML (e.g. ExpiredToken's `<Token-0>`)."""
    rid = uuid.uuid4().hex[:16].upper()
    host_id = uuid.uuid4().hex
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{xml_escape(code)}</Code><Message>{xml_escape(message)}</Message>"
        + (f"<Resource>{xml_escape(resource)}</Resource>" if resource else "")
        + extra
        + f"<RequestId>{rid}</RequestId><HostId>{host_id}</HostId></Error>"
    )
    headers = [("Content-Type", "application/xml"), ("x-amz-request-id", rid), ("x-amz-id-2", host_id)]
    return Reply(status, headers, xml.encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# request identification
# ---------------------------------------------------------------------------------------------

CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")


def _load_rest_routes(service: str) -> dict[str, list[tuple[re.Pattern, str]]]:
    """(method -> [(path regex, operation)]) from botocore's model of a rest protocol service."""
    model = botocore.loaders.Loader().load_service_model(service, "service-2")
    routes: dict[str, list[tuple[int, re.Pattern, str]]] = collections.defaultdict(list)
    for name, op in model["operations"].items():
        method = op["http"]["method"].upper()
        uri = op["http"]["requestUri"].split("?")[0]
        parts = [p for p in uri.split("/") if p]
        literal = 0
        out = []
        for p in parts:
            if p.startswith("{") and p.endswith("+}"):
                out.append("(?:.+)")
            elif p.startswith("{"):
                out.append("(?:[^/]+)")
            else:
                literal += 1
                out.append(re.escape(p))
        regex = re.compile("^/" + "/".join(out) + "/?$")
        routes[method].append((literal, regex, name))
    return {m: [(r, n) for _, r, n in sorted(v, key=lambda x: -x[0])] for m, v in routes.items()}


MACIE_ROUTES = _load_rest_routes("macie2")


@functools.lru_cache(maxsize=8192)
def macie_operation(method: str, path: str) -> str | None:
    for regex, name in MACIE_ROUTES.get(method, ()):
        if regex.match(path):
            return name
    return None


SECURITYHUB_ROUTES = _load_rest_routes("securityhub")


@functools.lru_cache(maxsize=1024)
def securityhub_operation(method: str, path: str) -> str | None:
    for regex, name in SECURITYHUB_ROUTES.get(method, ()):
        if regex.match(path):
            return name
    return None


class SecurityHub:
    """What moto's Security Hub lacks, on top of its backend (moto 5.2.5): it imports and lists
    findings whether or not Security Hub is enabled, ignores GetFindings' Filters, and accepts any
    finding. AWS answers 401 InvalidAccessException where the hub is not enabled, filters, pages,
    validates each finding and rejects one whose account is not the caller's (default product)."""

    REQUIRED = ("SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "Types", "CreatedAt",
                "UpdatedAt", "Severity", "Title", "Description", "Resources")
    # Filter name -> path into the finding.
    FILTER_FIELDS = {
        "Id": ("Id",), "ProductArn": ("ProductArn",), "GeneratorId": ("GeneratorId",),
        "AwsAccountId": ("AwsAccountId",), "Region": ("Region",), "RecordState": ("RecordState",),
        "Title": ("Title",), "WorkflowStatus": ("Workflow", "Status"),
        "ComplianceStatus": ("Compliance", "Status"), "SeverityLabel": ("Severity", "Label"),
    }
    POSITIVE = {"EQUALS", "PREFIX", "CONTAINS"}
    NEGATIVE = {"NOT_EQUALS", "PREFIX_NOT_EQUALS", "NOT_CONTAINS"}

    @staticmethod
    def not_subscribed(acct: str) -> Reply:
        return rest_json_error(401, "InvalidAccessException",
                               f"Account {acct} is not subscribed to AWS Security Hub")

    def handle(self, req: AwsRequest) -> Reply | None:
        """The layer's answer, or None to let moto answer (EnableSecurityHub, DescribeHub, …)."""
        op = req.operation
        backend = securityhub_backends[req.account][req.region]
        if op == "EnableSecurityHub":
            return None
        if not backend.enabled:
            return self.not_subscribed(req.account)
        if op not in ("BatchImportFindings", "GetFindings"):
            return None
        try:
            body = json.loads(req.body) if req.body else {}
        except ValueError:
            return rest_json_error(400, "InvalidInputException", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return rest_json_error(400, "InvalidInputException", "The request body must be a JSON object.")
        if op == "BatchImportFindings":
            return self.batch_import(req, backend, body)
        return self.get_findings(backend, body)

    def batch_import(self, req: AwsRequest, backend: Any, body: dict) -> Reply:
        findings = body.get("Findings")
        if not isinstance(findings, list) or not 1 <= len(findings) <= 100:
            return rest_json_error(400, "InvalidInputException",
                                   "Findings must hold between 1 and 100 findings.")
        if len(req.body) > 6 * 1024 * 1024:
            return rest_json_error(413, "InvalidInputException", "The request is larger than 6 MB.")
        default_product = f"arn:aws:securityhub:{req.region}:{req.account}:product/{req.account}/default"
        failed: list[dict] = []
        valid: list[dict] = []
        now = iso_ms(utcnow())
        for f in findings:
            fid = f.get("Id", "") if isinstance(f, dict) else ""
            if not isinstance(f, dict) or any(k not in f for k in self.REQUIRED):
                missing = [k for k in self.REQUIRED if not isinstance(f, dict) or k not in f]
                failed.append({"Id": fid, "ErrorCode": "InvalidInput",
                               "ErrorMessage": f"Finding does not adhere to ASFF: missing {', '.join(missing)}"})
                continue
            if f["ProductArn"] != default_product or f["AwsAccountId"] != req.account:
                # Our pick of AWS's answer: the finding is rejected, the batch goes on.
                failed.append({"Id": fid, "ErrorCode": "AccessDeniedException",
                               "ErrorMessage": f"Account {req.account} cannot import findings for product "
                                               f"{f['ProductArn']} and account {f['AwsAccountId']}"})
                continue
            f = dict(f)
            f.setdefault("RecordState", "ACTIVE")
            f.setdefault("Workflow", {"Status": "NEW"})
            f.setdefault("Region", req.region)
            f["ProductName"], f["CompanyName"], f["ProcessedAt"] = "Default", "Personal", now
            valid.append(f)
        if valid:
            moto_failed, _, moto_failures = backend.batch_import_findings(valid)
            failed.extend(moto_failures)
        return json_reply(200, {"FailedCount": len(failed), "SuccessCount": len(findings) - len(failed),
                                "FailedFindings": failed})

    def matches(self, finding: dict, filters: dict) -> bool:
        for name, conditions in filters.items():
            value: Any = finding
            for key in self.FILTER_FIELDS[name]:
                value = value.get(key) if isinstance(value, dict) else None
            value = value if isinstance(value, str) else ""

            def holds(c: dict) -> bool:
                v, comparison = c.get("Value", ""), c.get("Comparison", "")
                return {"EQUALS": value == v, "NOT_EQUALS": value != v,
                        "PREFIX": value.startswith(v), "PREFIX_NOT_EQUALS": not value.startswith(v),
                        "CONTAINS": v in value, "NOT_CONTAINS": v not in value}[comparison]
            positive = [c for c in conditions if c.get("Comparison") in self.POSITIVE]
            negative = [c for c in conditions if c.get("Comparison") in self.NEGATIVE]
            # AWS: the positive filters on one field are ORed, the negative ones ANDed.
            if positive and not any(holds(c) for c in positive):
                return False
            if not all(holds(c) for c in negative):
                return False
        return True

    def get_findings(self, backend: Any, body: dict) -> Reply:
        filters = body.get("Filters") or {}
        if not isinstance(filters, dict):
            return rest_json_error(400, "InvalidInputException", "Filters must be an object.")
        for name, conditions in filters.items():
            if name not in self.FILTER_FIELDS:
                return rest_json_error(400, "InvalidInputException",
                                       f"emulator: the filter {name} is not implemented")
            if not isinstance(conditions, list) or any(
                    not isinstance(c, dict) or c.get("Comparison") not in self.POSITIVE | self.NEGATIVE
                    for c in conditions):
                return rest_json_error(400, "InvalidInputException", f"Invalid string filter for {name}.")
        max_results = body.get("MaxResults", 100)
        if not isinstance(max_results, int) or not 1 <= max_results <= 100:
            return rest_json_error(400, "InvalidInputException", "MaxResults must be between 1 and 100.")
        token = body.get("NextToken") or "0"
        if not token.isdigit():
            return rest_json_error(400, "InvalidInputException", "The NextToken is invalid.")
        start = int(token)
        found = [f.as_dict() for f in backend.findings if self.matches(f.as_dict(), filters)]
        page = found[start:start + max_results]
        answer: dict = {"Findings": page}
        if start + max_results < len(found):
            answer["NextToken"] = str(start + max_results)
        return json_reply(200, answer)


S3_BUCKET_SUBRESOURCES = {
    # query key -> operation suffix (prefixed with Get/Put/Delete by method)
    "policy": "BucketPolicy",
    "publicAccessBlock": "PublicAccessBlock",
    "encryption": "BucketEncryption",
    "versioning": "BucketVersioning",
    "object-lock": "ObjectLockConfiguration",
    "acl": "BucketAcl",
    "tagging": "BucketTagging",
    "lifecycle": "BucketLifecycleConfiguration",
    "logging": "BucketLogging",
    "ownershipControls": "BucketOwnershipControls",
    "cors": "BucketCors",
    "website": "BucketWebsite",
    "notification": "BucketNotificationConfiguration",
    "replication": "BucketReplication",
    "accelerate": "BucketAccelerateConfiguration",
    "requestPayment": "BucketRequestPayment",
    "analytics": "BucketAnalyticsConfiguration",
    "inventory": "BucketInventoryConfiguration",
    "metrics": "BucketMetricsConfiguration",
    "intelligent-tiering": "BucketIntelligentTieringConfiguration",
}
S3_OBJECT_SUBRESOURCES = {
    "acl": "ObjectAcl",
    "tagging": "ObjectTagging",
    "retention": "ObjectRetention",
    "legal-hold": "ObjectLegalHold",
    "attributes": "ObjectAttributes",
    "torrent": "ObjectTorrent",
}
METHOD_VERB = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}


def s3_operation(method: str, path: str, query: dict[str, list[str]], headers: dict) -> str:
    if path.startswith("/v20180820/"):
        if "publicAccessBlock" in path:
            return METHOD_VERB.get(method, method.title()) + "PublicAccessBlock"
        return f"{method} {path.split('/')[2] if path.count('/') > 1 else path}"
    parts = path.lstrip("/").split("/", 1)
    bucket = parts[0]
    key = parts[1] if len(parts) > 1 else ""
    if not bucket:
        return "ListBuckets" if method == "GET" else f"{method}/"
    if not key:
        if method == "GET" and "location" in query:
            return "GetBucketLocation"
        if method == "GET" and "policyStatus" in query:
            return "GetBucketPolicyStatus"
        if "uploads" in query and method == "GET":
            return "ListMultipartUploads"
        if "versions" in query and method == "GET":
            return "ListObjectVersions"
        if "delete" in query and method == "POST":
            return "DeleteObjects"
        if method == "HEAD":
            return "HeadBucket"
        for q, suffix in S3_BUCKET_SUBRESOURCES.items():
            if q in query and method in METHOD_VERB:
                if q == "lifecycle" and method == "DELETE":
                    return "DeleteBucketLifecycle"
                return METHOD_VERB[method] + suffix
        if method == "GET":
            return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
        if method == "PUT":
            return "CreateBucket"
        if method == "DELETE":
            return "DeleteBucket"
        return f"{method}Bucket"
    # object level
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
        if "restore" in query:
            return "RestoreObject"
        if "select" in query:
            return "SelectObjectContent"
        return "PostObject"
    if method == "HEAD":
        return "HeadObject"
    for q, suffix in S3_OBJECT_SUBRESOURCES.items():
        if q in query and method in METHOD_VERB:
            return METHOD_VERB[method] + suffix
    if method == "GET":
        return "ListParts" if "uploadId" in query else "GetObject"
    if method == "PUT":
        if "uploadId" in query:
            return "UploadPartCopy" if "x-amz-copy-source" in headers else "UploadPart"
        return "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    return f"{method}Object"


# moto serialises some S3 outputs under "<Operation>Response" instead of the element name AWS uses;
# the Rust SDK checks the root element and fails to parse them.
S3_ROOT_ELEMENTS = {
    "GetBucketVersioning": "VersioningConfiguration",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
    "GetObjectAttributes": "GetObjectAttributesResponse",
}


def fix_s3_root(operation: str, body: bytes) -> bytes:
    want = S3_ROOT_ELEMENTS[operation].encode()
    m = re.search(rb"<([A-Za-z0-9]+)([ >/])", body.split(b"?>", 1)[-1])
    if not m or m.group(1) == want:
        return body
    got = m.group(1)
    body = re.sub(rb"<" + got + rb"([ >/])", b"<" + want + rb"\1", body, count=1)
    return body.replace(b"</" + got + b">", b"</" + want + b">")


class AwsRequest:
    """What the layer knows about one AWS request."""

    __slots__ = ("method", "path", "query", "body", "access_key", "region", "service", "protocol",
                 "operation", "label", "account", "form", "json_body", "s3_headers", "environ")

    def __init__(self) -> None:
        self.form: dict[str, list[str]] = {}
        self.json_body: Any = None
        self.s3_headers: dict[str, str] = {}

    def param(self, name: str) -> str | None:
        v = self.form.get(name)
        return v[0] if v else None


def read_body(environ: dict) -> bytes:
    """Buffer the request body and re-wrap wsgi.input so moto can read it again."""
    stream = environ.get("wsgi.input")
    body = b""
    if stream is not None:
        length = environ.get("CONTENT_LENGTH") or ""
        if length.strip().isdigit():
            n = int(length)
            chunks = []
            while n > 0:
                chunk = stream.read(n)
                if not chunk:
                    break
                chunks.append(chunk)
                n -= len(chunk)
            body = b"".join(chunks)
        elif environ.get("wsgi.input_terminated"):
            body = stream.read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return body


# ---------------------------------------------------------------------------------------------
# counters and faults
# ---------------------------------------------------------------------------------------------


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.operations: collections.Counter = collections.Counter()
            self.faulted: collections.Counter = collections.Counter()
            self.by_account: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
            self.assume_role_targets: collections.Counter = collections.Counter()
            self.expired: collections.Counter = collections.Counter()
            self.expired_by_account: collections.Counter = collections.Counter()

    def count(self, req: AwsRequest, target: str | None) -> None:
        with self.lock:
            self.operations[req.label] += 1
            self.by_account[req.account][req.label] += 1
            if target:
                self.assume_role_targets[target] += 1

    def count_fault(self, label: str) -> None:
        with self.lock:
            self.faulted[label] += 1

    def count_expired(self, req: AwsRequest) -> None:
        with self.lock:
            self.expired[req.label] += 1
            self.expired_by_account[req.account] += 1

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "operations": dict(sorted(self.operations.items())),
                "faulted": dict(sorted(self.faulted.items())),
                "by_account": {a: dict(sorted(c.items())) for a, c in sorted(self.by_account.items())},
                "assume_role_targets": dict(sorted(self.assume_role_targets.items())),
                "expired": dict(sorted(self.expired.items())),
                "expired_by_account": dict(sorted(self.expired_by_account.items())),
            }


class Faults:
    DEFAULTS = {"latency_ms": 0, "throttle_fraction": 0.0, "error_fraction": 0.0, "seed": 1, "operations": None}

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.set(dict(self.DEFAULTS))

    def set(self, settings: dict) -> dict:
        unknown = set(settings) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        s = dict(self.DEFAULTS)
        s.update(settings)
        latency = float(s["latency_ms"] or 0)
        thr = float(s["throttle_fraction"] or 0)
        err = float(s["error_fraction"] or 0)
        if latency < 0 or not (0 <= thr <= 1) or not (0 <= err <= 1) or thr + err > 1:
            raise ValueError("latency_ms >= 0, fractions in [0, 1], throttle + error <= 1")
        ops = s["operations"]
        if ops is not None:
            if not isinstance(ops, list) or not all(isinstance(o, str) for o in ops):
                raise ValueError("operations: null or a list of labels like \"macie2:GetMacieSession\"")
        seed = s["seed"]
        with self.lock:
            self.settings = {"latency_ms": s["latency_ms"] or 0, "throttle_fraction": thr,
                             "error_fraction": err, "seed": seed, "operations": ops}
            self.latency = latency / 1000.0
            self.throttle = thr
            self.error = err
            self.ops = frozenset(ops) if ops is not None else None
            self.rng = random.Random(seed)
            self.active = latency > 0 or thr > 0 or err > 0
        return self.get()

    def get(self) -> dict:
        with self.lock:
            return dict(self.settings)

    def draw(self, label: str) -> tuple[float, str | None]:
        """(latency seconds, None | "throttle" | "error") for one request."""
        if not self.active:
            return 0.0, None
        with self.lock:
            if self.ops is not None and label not in self.ops:
                return 0.0, None
            kind = None
            if self.throttle or self.error:
                r = self.rng.random()
                if r < self.throttle:
                    kind = "throttle"
                elif r < self.throttle + self.error:
                    kind = "error"
            return self.latency, kind


class Sessions:
    """The sessions AssumeRole issued, and when AWS stops accepting each.

    moto issues credentials for DurationSeconds (1 h by default, 12 h for GetSessionToken) and
    never refuses them afterwards.  Here a request signed with an issued access key is refused
    with ExpiredToken once its session has ended: at its Expiration, at `lifetime_seconds` after
    issue when that knob is set (Expiration then says so), or, earlier than its Expiration says,
    once it has signed `expire_after_uses` requests (a session cut short, as a client whose clock
    runs behind AWS's sees it).  `accounts` limits the knobs to sessions acting in those accounts."""

    DEFAULTS = {"lifetime_seconds": None, "expire_after_uses": None, "accounts": None}

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.issued: dict[str, dict] = {}
        self.set({})

    @classmethod
    def validate(cls, settings: Any) -> dict:
        if not isinstance(settings, dict):
            raise ValueError("credentials: expected a table / JSON object")
        unknown = set(settings) - set(cls.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown credentials settings: {sorted(unknown)} (allowed: {sorted(cls.DEFAULTS)})")
        s = {**cls.DEFAULTS, **settings}
        lifetime = s["lifetime_seconds"]
        if lifetime is not None and (isinstance(lifetime, bool) or not isinstance(lifetime, (int, float))
                                     or lifetime <= 0):
            raise ValueError("lifetime_seconds: null or a number of seconds > 0")
        uses = s["expire_after_uses"]
        if uses is not None and (isinstance(uses, bool) or not isinstance(uses, int) or uses < 0):
            raise ValueError("expire_after_uses: null or a whole number >= 0")
        accounts = s["accounts"]
        if accounts is not None and (not isinstance(accounts, list) or
                                     not all(isinstance(a, str) and re.fullmatch(r"\d{12}", a) for a in accounts)):
            raise ValueError("accounts: null or a list of 12-digit account ids")
        return s

    def set(self, settings: Any) -> dict:
        s = self.validate(settings)
        with self.lock:
            self.settings = s
        return self.get()

    def get(self) -> dict:
        with self.lock:
            return {**self.settings, "issued": len(self.issued)}

    def _applies(self, account: str) -> bool:
        accounts = self.settings["accounts"]
        return accounts is None or account in accounts

    def issue(self, access_key: str, account: str, expiration: dt.datetime) -> dt.datetime:
        """Records a session AssumeRole answered; returns the Expiration its answer must carry."""
        with self.lock:
            lifetime = self.settings["lifetime_seconds"]
            if lifetime is not None and self._applies(account):
                expiration = utcnow() + dt.timedelta(seconds=lifetime)
            self.issued[access_key] = {"account": account, "expires": expiration, "uses": 0}
            return expiration

    def refuse(self, access_key: str | None) -> bool:
        """Whether a request signed with `access_key` is refused as expired (else it is one use)."""
        with self.lock:
            session = self.issued.get(access_key or "")
            if session is None:
                return False
            if utcnow() >= session["expires"]:
                return True
            limit = self.settings["expire_after_uses"]
            if limit is not None and self._applies(session["account"]) and session["uses"] >= limit:
                return True
            session["uses"] += 1
            return False


# ---------------------------------------------------------------------------------------------
# Macie (served entirely by the layer)
# ---------------------------------------------------------------------------------------------

MACIE_NOT_ENABLED = "Macie is not enabled."
MACIE_NOT_ENABLED_EXPORT = "Macie isn\u2019t enabled for this account."
FREQUENCIES = ("FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS")


class MacieSession:
    __slots__ = ("status", "created_at", "updated_at", "frequency", "export", "administrator")

    def __init__(self, status: str = "ENABLED", frequency: str = "FIFTEEN_MINUTES") -> None:
        now = utcnow()
        self.status = status
        self.created_at = now
        self.updated_at = now
        self.frequency = frequency
        self.export: dict | None = None          # the s3Destination dict
        self.administrator: dict | None = None   # {"accountId", "invitationId", "invitedAt", "relationshipStatus"}

    def describe(self, account: str, region: str) -> dict:
        return {
            "account": account, "region": region, "status": self.status,
            "created_at": iso_ms(self.created_at), "updated_at": iso_ms(self.updated_at),
            "finding_publishing_frequency": self.frequency, "export": self.export,
            "administrator": None if not self.administrator else {
                **self.administrator, "invitedAt": iso_ms(self.administrator["invitedAt"])},
        }


class Macie:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sessions: dict[tuple[str, str], MacieSession] = {}

    # -- state access for seeding / control API --
    def session(self, account: str, region: str) -> MacieSession | None:
        return self.sessions.get((account, region))

    def set_state(self, spec: dict) -> dict:
        account = spec.get("account")
        region = spec.get("region")
        if not (isinstance(account, str) and re.fullmatch(r"\d{12}", account)) or not isinstance(region, str):
            raise ValueError("account (12 digits) and region are required")
        with self.lock:
            key = (account, region)
            if spec.get("enabled") is False:
                self.sessions.pop(key, None)
                return {"account": account, "region": region, "enabled": False}
            s = self.sessions.get(key)
            if s is None:
                if spec.get("enabled") is not True and not spec.get("create"):
                    raise LookupError(f"Macie is not enabled for {account} in {region} (pass \"enabled\": true)")
                s = self.sessions[key] = MacieSession()
            if "status" in spec:
                if spec["status"] not in ("ENABLED", "PAUSED"):
                    raise ValueError("status: ENABLED | PAUSED")
                s.status = spec["status"]
            if spec.get("created_at") is not None:
                s.created_at = parse_time(spec["created_at"])
            if spec.get("created_days_ago") is not None:
                s.created_at = utcnow() - dt.timedelta(days=float(spec["created_days_ago"]))
            if spec.get("updated_at") is not None:
                s.updated_at = parse_time(spec["updated_at"])
            elif spec.get("created_at") is not None or spec.get("created_days_ago") is not None:
                s.updated_at = s.created_at
            if "administrator" in spec:
                adm = spec["administrator"]
                if adm is None:
                    s.administrator = None
                else:
                    if not re.fullmatch(r"\d{12}", str(adm)):
                        raise ValueError("administrator: a 12-digit account id or null")
                    s.administrator = {
                        "accountId": str(adm),
                        "invitationId": uuid.uuid4().hex,
                        "invitedAt": s.created_at,
                        "relationshipStatus": spec.get("relationship_status") or "Enabled",
                    }
            elif "relationship_status" in spec and s.administrator:
                s.administrator["relationshipStatus"] = spec["relationship_status"]
            if "export" in spec:
                s.export = spec["export"]
            return s.describe(account, region)

    def dump(self) -> list[dict]:
        with self.lock:
            return [s.describe(a, r) for (a, r), s in sorted(self.sessions.items())]

    # -- the API --
    def handle(self, req: AwsRequest) -> Reply:
        op = req.operation
        acct, region = req.account, req.region
        body: dict = {}
        if req.body:
            try:
                body = json.loads(req.body)
            except ValueError:
                return rest_json_error(400, "ValidationException", "The request body is not valid JSON.")
            if not isinstance(body, dict):
                return rest_json_error(400, "ValidationException", "The request body must be a JSON object.")
        with self.lock:
            s = self.sessions.get((acct, region))
            if op == "EnableMacie":
                if s is not None:
                    return rest_json_error(409, "ConflictException", "Macie is already enabled for this account.")
                status = body.get("status") or "ENABLED"
                freq = body.get("findingPublishingFrequency") or "FIFTEEN_MINUTES"
                if status not in ("ENABLED", "PAUSED") or freq not in FREQUENCIES:
                    return rest_json_error(400, "ValidationException", "Invalid status or findingPublishingFrequency.")
                self.sessions[(acct, region)] = MacieSession(status, freq)
                return json_reply(200, {})
            if op == "GetClassificationExportConfiguration":
                if s is None:
                    return rest_json_error(404, "ResourceNotFoundException", MACIE_NOT_ENABLED_EXPORT)
                if not s.export:
                    return json_reply(200, {})
                return json_reply(200, {"configuration": {"s3Destination": dict(s.export)}})
            if s is None:
                if op is None:
                    return rest_json_error(404, "ResourceNotFoundException",
                                           f"No Macie operation for {req.method} {req.path}.")
                return rest_json_error(403, "AccessDeniedException", MACIE_NOT_ENABLED)
            if op == "GetMacieSession":
                return json_reply(200, {
                    "createdAt": iso_ms(s.created_at),
                    "findingPublishingFrequency": s.frequency,
                    "serviceRole": f"arn:aws:iam::{acct}:role/aws-service-role/macie.amazonaws.com/"
                                   "AWSServiceRoleForAmazonMacie",
                    "status": s.status,
                    "updatedAt": iso_ms(s.updated_at),
                })
            if op == "UpdateMacieSession":
                status = body.get("status")
                freq = body.get("findingPublishingFrequency")
                if status is not None and status not in ("ENABLED", "PAUSED"):
                    return rest_json_error(400, "ValidationException", "status must be ENABLED or PAUSED.")
                if freq is not None and freq not in FREQUENCIES:
                    return rest_json_error(400, "ValidationException", "Invalid findingPublishingFrequency.")
                if status:
                    s.status = status
                if freq:
                    s.frequency = freq
                s.updated_at = utcnow()
                return json_reply(200, {})
            if op == "DisableMacie":
                del self.sessions[(acct, region)]
                return json_reply(200, {})
            if op == "PutClassificationExportConfiguration":
                conf = body.get("configuration")
                dest = conf.get("s3Destination") if isinstance(conf, dict) else None
                if not isinstance(dest, dict):
                    return rest_json_error(400, "ValidationException",
                                           "configuration.s3Destination is required.")
                for field in ("bucketName", "kmsKeyArn"):
                    if not isinstance(dest.get(field), str) or not dest.get(field):
                        return rest_json_error(400, "ValidationException",
                                               f"configuration.s3Destination.{field} is required.")
                stored = {k: dest[k] for k in ("bucketName", "keyPrefix", "kmsKeyArn", "expectedBucketOwner")
                          if isinstance(dest.get(k), str)}
                s.export = stored
                return json_reply(200, {"configuration": {"s3Destination": dict(stored)}})
            if op in ("GetAdministratorAccount", "GetMasterAccount"):
                field = "administrator" if op == "GetAdministratorAccount" else "master"
                if not s.administrator:
                    return json_reply(200, {})
                a = s.administrator
                return json_reply(200, {field: {
                    "accountId": a["accountId"], "invitationId": a["invitationId"],
                    "invitedAt": iso_ms(a["invitedAt"]), "relationshipStatus": a["relationshipStatus"]}})
            if op == "ListMembers":
                members = []
                for (m_acct, m_region), ms in sorted(self.sessions.items()):
                    if m_region == region and ms.administrator and ms.administrator["accountId"] == acct:
                        members.append({
                            "accountId": m_acct,
                            "administratorAccountId": acct,
                            "arn": f"arn:aws:macie2:{region}:{acct}:member/{m_acct}",
                            "email": f"{m_acct}@example.com",
                            "invitedAt": iso_ms(ms.administrator["invitedAt"]),
                            "masterAccountId": acct,
                            "relationshipStatus": ms.administrator["relationshipStatus"],
                            "tags": {},
                            "updatedAt": iso_ms(ms.updated_at),
                        })
                return json_reply(200, {"members": members})
            if op == "ListOrganizationAdminAccounts":
                admins = sorted({ms.administrator["accountId"] for (_, r), ms in self.sessions.items()
                                 if r == region and ms.administrator})
                return json_reply(200, {"adminAccounts": [{"accountId": a, "status": "ENABLED"} for a in admins]})
            if op == "GetInvitationsCount":
                return json_reply(200, {"invitationsCount": 0})
            name = op or f"{req.method} {req.path}"
            return rest_json_error(404, "ResourceNotFoundException", f"The emulator does not implement macie2:{name}.")


# ---------------------------------------------------------------------------------------------
# KMS key policy evaluation (cross-account calls only)
# ---------------------------------------------------------------------------------------------

KMS_CROSS_ACCOUNT_OPS = frozenset({
    "DescribeKey", "GetKeyRotationStatus", "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac", "VerifyMac", "GetPublicKey", "Sign", "Verify", "CreateGrant", "ListGrants",
    "RetireGrant", "RevokeGrant", "DeriveSharedSecret",
})
# Operations moto implements with a plain lookup of the KeyId it was sent (no ARN resolution).
KMS_KEY_STATE_OPS = frozenset({"EnableKey", "DisableKey", "CancelKeyDeletion", "ScheduleKeyDeletion"})
# Operations whose answer names the key by its ARN in AWS, where moto echoes the KeyId sent.
KMS_ANSWERS_KEY_ARN = frozenset({"CancelKeyDeletion", "ScheduleKeyDeletion"})
KMS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(key|alias)/(.+)$")


def replace_json_body(req: "AwsRequest", body: dict) -> None:
    """Hands moto a JSON request body the layer has corrected."""
    data = json.dumps(body).encode("utf-8")
    req.environ["wsgi.input"] = io.BytesIO(data)
    req.environ["CONTENT_LENGTH"] = str(len(data))


def kms_answer_with_key_arn(out: bytes, account: str, region: str) -> bytes:
    """AWS answers CancelKeyDeletion and ScheduleKeyDeletion with the key's ARN."""
    answer = json.loads(out)
    key_id = answer.get("KeyId")
    if isinstance(key_id, str) and not key_id.startswith("arn:"):
        answer["KeyId"] = f"arn:aws:kms:{region}:{account}:key/{key_id}"
    return json.dumps(answer).encode("utf-8")


def _as_list(v: Any) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def principal_matches(principal: Any, caller_account: str, caller_arn: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for p in _as_list(principal.get("AWS")):
        p = str(p)
        if p == "*" or p == caller_account or p == f"arn:aws:iam::{caller_account}:root":
            return True
        if p == caller_arn:
            return True
        m = re.match(r"^arn:aws:iam::(\d{12}):role/(?:.*/)?([^/]+)$", p)
        if m and m.group(1) == caller_account and \
                caller_arn.startswith(f"arn:aws:sts::{caller_account}:assumed-role/{m.group(2)}/"):
            return True
    return False


def action_matches(actions: Any, action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in _as_list(actions))


def key_policy_allows(policy_text: str | None, caller_account: str, caller_arn: str, action: str) -> bool:
    try:
        policy = json.loads(policy_text or "")
    except ValueError:
        return False
    allowed = False
    for st in _as_list(policy.get("Statement")):
        if not isinstance(st, dict) or not action_matches(st.get("Action"), action):
            continue
        if "NotAction" in st:
            continue
        if not principal_matches(st.get("Principal"), caller_account, caller_arn):
            continue
        if str(st.get("Effect", "")).lower() == "deny":
            return False
        if str(st.get("Effect", "")).lower() == "allow":
            allowed = True
    return allowed


# ---------------------------------------------------------------------------------------------
# the fidelity layer
# ---------------------------------------------------------------------------------------------

ORG_NO_ORG_ALLOWED = frozenset({"CreateOrganization", "AcceptHandshake", "DeclineHandshake",
                                "ListHandshakesForAccount", "DescribeHandshake"})
ORG_MEMBER_ALLOWED = frozenset({"DescribeOrganization", "LeaveOrganization", "AcceptHandshake",
                                "DeclineHandshake", "ListHandshakesForAccount", "DescribeHandshake"})

EXPIRED_MESSAGE = "The security token included in the request is expired"
S3_EXPIRED_MESSAGE = "The provided token has expired."
CORAL_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.service/"

THROTTLE_ERRORS = {  # service -> (status, code, message)
    "macie2": (429, "ThrottlingException", "Rate exceeded"),
    "organizations": (400, "TooManyRequestsException",
                      "AWS Organizations can't complete your request because it conflicts with another attempt "
                      "to modify the same entity. Try again later."),
    "kms": (400, "ThrottlingException", "Rate exceeded"),
    "sts": (400, "Throttling", "Rate exceeded"),
    "s3": (503, "SlowDown", "Please reduce your request rate."),
}
INTERNAL_ERRORS = {
    "macie2": (500, "InternalServerException", "An internal error occurred."),
    "organizations": (500, "ServiceException",
                      "AWS Organizations can't complete your request because of an internal service error. "
                      "Try again later."),
    "kms": (500, "KMSInternalException", "An internal error occurred."),
    "sts": (500, "InternalFailure", "An internal error occurred."),
    "s3": (500, "InternalError", "We encountered an internal error. Please try again."),
}


class Layer:
    """WSGI middleware: control API, fault injection, rules, Macie, then moto."""

    def __init__(self, quiet: bool = True) -> None:
        self.moto = CachingDispatcher(create_backend_app)
        self.moto_lock = threading.RLock()
        self.counters = Counters()
        self.faults = Faults()
        self.sessions = Sessions()
        self.macie = Macie()
        self.securityhub = SecurityHub()
        self.quiet = quiet
        self.base_url = ""
        # access key -> (account, caller ARN), learnt from AssumeRole responses
        self.keys: dict[str, tuple[str, str]] = {}
        # rules (applied once `rules_active`)
        self.rules_active = True
        self.seeding = False
        self.deny_assume: set[str] = set()
        self.disabled_regions: dict[str, frozenset[str]] = {}
        self.scenario_result: dict | None = None
        self.seed_lock = threading.Lock()

    # -- identification --------------------------------------------------------------------------

    def account_of(self, access_key: str | None) -> str:
        if not access_key:
            return MANAGEMENT_ACCOUNT_ID
        known = self.keys.get(access_key)
        if known:
            return known[0]
        return get_account_id_from(access_key)

    def caller_arn(self, access_key: str | None, account: str) -> str:
        known = self.keys.get(access_key or "")
        if known:
            return known[1]
        return f"arn:aws:sts::{account}:user/moto"

    def identify(self, environ: dict, body: bytes) -> AwsRequest:
        req = AwsRequest()
        req.environ = environ
        req.method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "") or "/"
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        req.path = path
        qs = environ.get("QUERY_STRING", "")
        req.query = parse_qs(qs, keep_blank_values=True) if qs else {}
        req.body = body
        auth = environ.get("HTTP_AUTHORIZATION", "")
        m = CREDENTIAL_RE.search(auth)
        if not m and "X-Amz-Credential" in req.query:  # presigned URL
            m = CREDENTIAL_RE.search("Credential=" + req.query["X-Amz-Credential"][0])
        if m:
            req.access_key, _, req.region, req.service = m.group(1), m.group(2), m.group(3), m.group(4).lower()
        else:
            req.access_key, req.region, req.service = None, "us-east-1", "unknown"
        moto_account = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
        req.account = moto_account if moto_account else self.account_of(req.access_key)

        target = environ.get("HTTP_X_AMZ_TARGET")
        ctype = environ.get("CONTENT_TYPE", "")
        if req.service == "s3":
            req.protocol = PROTO_S3
            headers = {"x-amz-copy-source": "1"} if environ.get("HTTP_X_AMZ_COPY_SOURCE") else {}
            req.operation = s3_operation(req.method, path, req.query, headers)
            if path.startswith("/v20180820/"):
                req.label = f"s3control:{req.operation}"
            else:
                req.label = f"s3:{req.operation}"
            return req
        if target:
            req.protocol = PROTO_JSON
            req.operation = target.rsplit(".", 1)[-1]
            if body:
                try:
                    req.json_body = json.loads(body)
                except ValueError:
                    req.json_body = None
        elif req.service == "macie2":
            req.protocol = PROTO_REST_JSON
            req.operation = macie_operation(req.method, path.rstrip("/") or "/")
        elif req.service == "securityhub":
            req.protocol = PROTO_REST_JSON
            req.operation = securityhub_operation(req.method, path.rstrip("/") or "/")
        elif ctype.startswith("application/x-www-form-urlencoded") or "Action" in req.query:
            req.protocol = PROTO_QUERY
            form = dict(req.query)
            if body and ctype.startswith("application/x-www-form-urlencoded"):
                try:
                    form.update(parse_qs(body.decode("utf-8"), keep_blank_values=True))
                except UnicodeDecodeError:
                    pass
            req.form = form
            req.operation = req.param("Action") or "Unknown"
        else:
            req.protocol = PROTO_REST_JSON
            req.operation = None
        req.label = f"{req.service}:{req.operation or req.method + ' ' + path}"
        return req

    # -- protocol-aware errors -------------------------------------------------------------------

    def protocol_error(self, req: AwsRequest, status: int, code: str, message: str,
                       sender: bool = True) -> Reply:
        if req.protocol == PROTO_S3:
            return s3_error(status, code, message)
        if req.protocol == PROTO_QUERY:
            return query_error(status, req.service, code, message, sender)
        if req.protocol == PROTO_JSON:
            return json_error(status, code, message, message_key="Message" if req.service == "organizations" else "message")
        return rest_json_error(status, code, message)

    def expired_reply(self, req: AwsRequest) -> Reply:
        """AWS's answer to a request signed with credentials whose session has ended, per protocol."""
        if req.protocol == PROTO_S3 and req.label.startswith("s3control:"):
            # S3 Control wraps its errors (<ErrorResponse><Error>…), as its model says
            rid = uuid.uuid4().hex[:16].upper()
            xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Code>ExpiredToken</Code>'
                   f"<Message>{S3_EXPIRED_MESSAGE}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>")
            return Reply(400, [("Content-Type", "application/xml"), ("x-amz-request-id", rid)], xml.encode("utf-8"))
        if req.protocol == PROTO_S3:
            # A HEAD answer has no body: the SDK then sees a bare 400 without an error code
            token = req.environ.get("HTTP_X_AMZ_SECURITY_TOKEN", "")
            return s3_error(400, "ExpiredToken", S3_EXPIRED_MESSAGE, extra=f"<Token-0>{xml_escape(token)}</Token-0>")
        if req.protocol == PROTO_QUERY:
            return query_error(400, req.service, "ExpiredToken", EXPIRED_MESSAGE)
        # JSON and rest-json services: AWS's front end (Coral) answers, spelling the type in full
        headers = [("x-amzn-ErrorType", f"ExpiredTokenException:{CORAL_NAMESPACE}")]
        if req.protocol == PROTO_JSON:
            return json_reply(400, {"__type": "com.amazon.coral.service#ExpiredTokenException",
                                    "message": EXPIRED_MESSAGE}, headers, "application/x-amz-json-1.1")
        return json_reply(403, {"message": EXPIRED_MESSAGE}, headers)

    def fault_reply(self, req: AwsRequest, kind: str) -> Reply:
        table = THROTTLE_ERRORS if kind == "throttle" else INTERNAL_ERRORS
        if req.service in table:
            status, code, message = table[req.service]
        elif kind == "throttle":
            if req.protocol == PROTO_QUERY:
                status, code, message = 400, "Throttling", "Rate exceeded"
            else:
                status, code, message = (429 if req.protocol == PROTO_REST_JSON else 400), "ThrottlingException", \
                    "Rate exceeded"
        else:
            status, code, message = 500, "InternalFailure", "An internal error occurred."
        return self.protocol_error(req, status, code, message, sender=(kind == "throttle"))

    # -- rules -----------------------------------------------------------------------------------

    def region_disabled_reply(self, req: AwsRequest) -> Reply | None:
        regions = self.disabled_regions.get(req.account)
        if not regions or req.region not in regions:
            return None
        if req.protocol == PROTO_S3:
            return s3_error(400, "InvalidToken", "The provided token is malformed or otherwise invalid.")
        if req.service == "sts":
            return query_error(403, "sts", "RegionDisabledException",
                               f"STS is not activated in this region for account:{req.account}. Your account "
                               "administrator can activate STS in this region using the IAM Console.")
        if req.protocol == PROTO_QUERY:
            return query_error(403, req.service, "InvalidClientTokenId",
                               "The security token included in the request is invalid.")
        if req.protocol == PROTO_JSON:
            return json_reply(403, {"__type": "UnrecognizedClientException",
                                    "message": "The security token included in the request is invalid."},
                              [("x-amzn-ErrorType", "UnrecognizedClientException")], "application/x-amz-json-1.1")
        return rest_json_error(403, "UnrecognizedClientException",
                               "The security token included in the request is invalid.")

    def role_exists(self, role_arn: str) -> bool:
        """AWS refuses AssumeRole into a role that does not exist; moto hands out credentials for any ARN."""
        m = re.match(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$", role_arn)
        if not m:
            return False
        with self.moto_lock:
            backend = iam_backends[m.group(1)][PARTITION]
            return any(r.name == m.group(2) for r in backend.roles.values())

    @staticmethod
    def role_arn_account(role_arn: str | None) -> str | None:
        if not role_arn:
            return None
        m = re.match(r"^arn:aws[a-z-]*:iam::(\d{12}):", role_arn)
        return m.group(1) if m else None

    def organizations_check(self, req: AwsRequest) -> Reply | None:
        op = req.operation
        acct = req.account
        backend = organizations_backends[acct][PARTITION]
        is_management = backend.org is not None
        owner = organizations_backends.master_accounts.get(acct)
        if not is_management and owner is None:
            if op in ORG_NO_ORG_ALLOWED:
                return None
            return json_error(400, "AWSOrganizationsNotInUseException",
                              "Your account is not a member of an organization.", message_key="Message")
        if owner is not None and not is_management and op not in ORG_MEMBER_ALLOWED:
            master_id = owner[0]
            master = organizations_backends[master_id][PARTITION]
            read_only = op.startswith("List") or op.startswith("Describe")
            if read_only and any(a.account.id == acct for a in master.admins):
                # delegated administrator: moto keeps the organization in the management account
                req.environ["HTTP_X_MOTO_ACCOUNT_ID"] = master_id
            else:
                return json_error(400, "AccessDeniedException", "You don't have permissions to access this resource.",
                                  message_key="Message")
        if op in ("ListAccounts", "ListAccountsForParent") and isinstance(req.json_body, dict):
            mr = req.json_body.get("MaxResults")
            if mr is not None:
                if not isinstance(mr, int) or mr > 20:
                    return json_error(400, "InvalidInputException",
                                      "You provided a value that exceeds the maximum allowed value.",
                                      {"Reason": "MAX_VALUE_EXCEEDED"}, message_key="Message")
                if mr < 1:
                    return json_error(400, "InvalidInputException",
                                      "You provided a value that is less than the minimum allowed value.",
                                      {"Reason": "MIN_VALUE_EXCEEDED"}, message_key="Message")
        return None

    def kms_check(self, req: AwsRequest) -> Reply | None:
        body = req.json_body
        if not isinstance(body, dict):
            return None
        if req.operation in ("GetKeyPolicy", "PutKeyPolicy") and not body.get("PolicyName"):
            # PolicyName is optional (default "default") since 2023; moto still requires it
            body["PolicyName"] = "default"
            replace_json_body(req, body)
        key_id = body.get("KeyId")
        if not isinstance(key_id, str):
            return None
        m = KMS_ARN_RE.match(key_id)
        if m and m.group(2) == req.account and m.group(3) == "key" and req.operation in KMS_KEY_STATE_OPS:
            # AWS takes a key ARN wherever it takes a key id; moto's key-state operations look the
            # raw KeyId up in their key table, so an ARN is answered with a 500
            body["KeyId"] = m.group(4)
            replace_json_body(req, body)
            return None
        if not m or m.group(2) == req.account:
            return None
        region, owner, kind, rest = m.groups()
        caller = self.caller_arn(req.access_key, req.account)
        action = f"kms:{req.operation}"
        denied = json_error(400, "AccessDeniedException",
                            f"User: {caller} is not authorized to perform: {action} on resource: {key_id} "
                            f"because no resource-based policy allows the {action} action")
        if req.operation not in KMS_CROSS_ACCOUNT_OPS:
            return denied
        if region != req.region:
            return None  # moto answers NotFoundException, like AWS for a key of another Region
        backend = kms_backends[owner][region]
        key = None
        if kind == "key":
            key = backend.keys.get(rest)
        else:
            kid = next((k.id for k in backend.keys.values() if f"alias/{rest}" in k.aliases), None)
            key = backend.keys.get(kid) if kid else None
        if key is None:
            return json_error(400, "NotFoundException", f"Key '{key_id}' does not exist")
        if not key_policy_allows(key.policy, req.account, caller, action):
            return denied
        req.environ["HTTP_X_MOTO_ACCOUNT_ID"] = owner
        return None

    # -- forwarding to moto ------------------------------------------------------------------------

    def forward(self, environ: dict) -> tuple[str, list[tuple[str, str]], bytes]:
        captured: dict = {}
        chunks: list[bytes] = []

        def start_response(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured["status"] = status
            captured["headers"] = headers
            return chunks.append

        with self.moto_lock:
            result = self.moto(environ, start_response)
            try:
                for c in result:
                    if c:
                        chunks.append(c)
            finally:
                close = getattr(result, "close", None)
                if close:
                    close()
        return captured.get("status", "500 INTERNAL SERVER ERROR"), captured.get("headers", []), b"".join(chunks)

    def learn_assumed_key(self, body: bytes) -> bytes:
        """Learns the account and ARN of the credentials an AssumeRole answer carries and records
        their session; returns the answer with the Expiration the session really has."""
        text = body.decode("utf-8", "replace")
        ak = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", text)
        arn = re.search(r"<AssumedRoleUser>.*?<Arn>([^<]+)</Arn>", text, re.S)
        expiration = re.search(r"<Expiration>([^<]+)</Expiration>", text)
        if not (ak and arn):
            return body
        m = re.match(r"^arn:aws[a-z-]*:sts::(\d{12}):", arn.group(1))
        if not m:
            return body
        self.keys[ak.group(1)] = (m.group(1), arn.group(1))
        issued = parse_time(expiration.group(1)) if expiration else utcnow() + dt.timedelta(hours=1)
        expires = self.sessions.issue(ak.group(1), m.group(1), issued)
        if expiration and expires != issued:
            text = text.replace(expiration.group(0), f"<Expiration>{iso_ms(expires)}</Expiration>", 1)
            return text.encode("utf-8")
        return body

    def assume_role_duration_reply(self, req: AwsRequest) -> Reply | None:
        """AWS's limits on DurationSeconds, which moto does not check: 900 s to 12 h, at most the
        role's MaxSessionDuration, and at most 1 h when the caller is itself a role session
        (role chaining)."""
        raw = req.param("DurationSeconds")
        if raw is None:
            return None
        try:
            duration = int(raw)
        except ValueError:
            return query_error(400, "sts", "ValidationError", f"Value '{raw}' at 'durationSeconds' is not a number.")
        for limit, ok in ((900, duration >= 900), (43200, duration <= 43200)):
            if not ok:
                relation = "greater" if limit == 900 else "less"
                return query_error(400, "sts", "ValidationError",
                                   f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
                                   f"satisfy constraint: Member must have value {relation} than or equal to {limit}")
        if duration > 3600 and (req.access_key or "") in self.keys:
            return query_error(400, "sts", "ValidationError",
                               "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
                               "by role chaining.")
        m = re.match(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$", req.param("RoleArn") or "")
        if m:
            with self.moto_lock:
                backend = iam_backends[m.group(1)][PARTITION]
                role = next((r for r in backend.roles.values() if r.name == m.group(2)), None)
            maximum = int(getattr(role, "max_session_duration", None) or 3600) if role is not None else None
            if maximum is not None and duration > maximum:
                return query_error(400, "sts", "ValidationError",
                                   "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
        return None

    # -- WSGI entry point ------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_emulator" or path.startswith("/_emulator/"):
            return self.control(environ, start_response)
        try:
            body = read_body(environ)
            req = self.identify(environ, body)
            head = req.method == "HEAD"
            target = None
            if req.service == "sts" and req.operation == "AssumeRole":
                target = self.role_arn_account(req.param("RoleArn"))
            self.counters.count(req, target)

            if not self.seeding:
                latency, fault = self.faults.draw(req.label)
                if latency:
                    time.sleep(latency)
                # AWS authenticates a request before anything else answers it
                if self.sessions.refuse(req.access_key):
                    self.counters.count_expired(req)
                    return self.expired_reply(req).send(start_response, head)
                if fault:
                    self.counters.count_fault(req.label)
                    return self.fault_reply(req, fault).send(start_response, head)
            if self.rules_active and not self.seeding:
                reply = self.region_disabled_reply(req)
                if reply is None and target:
                    reply = self.assume_role_duration_reply(req)
                if reply is None and target and (target in self.deny_assume or
                                                 not self.role_exists(req.param("RoleArn") or "")):
                    caller = self.caller_arn(req.access_key, req.account)
                    reply = query_error(403, "sts", "AccessDenied",
                                        f"User: {caller} is not authorized to perform: sts:AssumeRole on "
                                        f"resource: {req.param('RoleArn')}")
                if reply is not None:
                    return reply.send(start_response, head)

            if req.service == "macie2":
                return self.macie.handle(req).send(start_response, head)
            if req.service == "securityhub":
                with self.moto_lock:
                    reply = self.securityhub.handle(req)
                if reply is not None:
                    return reply.send(start_response, head)
            if req.service == "organizations" and req.protocol == PROTO_JSON:
                with self.moto_lock:
                    reply = self.organizations_check(req)
                if reply is not None:
                    return reply.send(start_response, head)
            if req.service == "kms" and req.protocol == PROTO_JSON:
                with self.moto_lock:
                    reply = self.kms_check(req)
                if reply is not None:
                    return reply.send(start_response, head)

            status, headers, out = self.forward(environ)
            if target and status.startswith("200"):
                learnt = self.learn_assumed_key(out)
                if learnt is not out:
                    out = learnt
                    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                    headers.append(("Content-Length", str(len(out))))
            if req.service == "kms" and req.operation in KMS_ANSWERS_KEY_ARN and status.startswith("200") and out:
                out = kms_answer_with_key_arn(out, req.account, req.region)
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(out))))
            if req.protocol == PROTO_S3 and req.operation in S3_ROOT_ELEMENTS and status.startswith("200") and out:
                out = fix_s3_root(req.operation, out)
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(out))))
            start_response(status, headers)
            return [out]
        except Exception as exc:  # never let a layer bug kill the connection silently
            traceback.print_exc(file=sys.stderr)
            return json_reply(500, {"message": f"emulator error: {exc}"},
                              [("x-amzn-ErrorType", "InternalFailure")]).send(start_response)

    # -- control API -----------------------------------------------------------------------------

    def control(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "").rstrip("/")
        body = read_body(environ)

        def ok(obj: Any, status: int = 200) -> Iterable[bytes]:
            data = json.dumps(obj, ensure_ascii=False, indent=None).encode("utf-8")
            return Reply(status, [("Content-Type", "application/json")], data).send(start_response)

        def bad(status: int, message: str) -> Iterable[bytes]:
            return ok({"error": message}, status)

        def body_json() -> Any:
            if not body.strip():
                return {}
            return json.loads(body)

        try:
            if path == "/_emulator/health" and method == "GET":
                return ok({"ok": True})
            if path == "/_emulator/counters" and method == "GET":
                return ok(self.counters.snapshot())
            if path == "/_emulator/counters/reset" and method == "POST":
                self.counters.reset()
                return ok({"ok": True})
            if path == "/_emulator/faults":
                if method == "GET":
                    return ok(self.faults.get())
                if method == "POST":
                    return ok(self.faults.set(body_json()))
            if path == "/_emulator/credentials":
                if method == "GET":
                    return ok(self.sessions.get())
                if method == "POST":
                    return ok(self.sessions.set(body_json()))
            if path == "/_emulator/scenario":
                if method == "GET":
                    return ok(self.scenario_result or {})
                if method == "POST":
                    ctype = environ.get("CONTENT_TYPE", "")
                    text = body.decode("utf-8")
                    if "json" in ctype or text.lstrip().startswith("{"):
                        scenario = json.loads(text)
                    else:
                        scenario = tomllib.loads(text)
                    return ok(Seeder(self).seed(scenario))
            if path == "/_emulator/macie":
                if method == "GET":
                    return ok({"sessions": self.macie.dump()})
                if method == "POST":
                    return ok(self.macie.set_state(body_json()))
            if path == "/_emulator/account" and method == "POST":
                return ok(self.set_account_rules(body_json()))
            if path == "/_emulator/rules" and method == "GET":
                return ok({"rules_active": self.rules_active, "deny_assume_role": sorted(self.deny_assume),
                           "disabled_regions": {a: sorted(r) for a, r in sorted(self.disabled_regions.items())}})
            return bad(404, f"no control route {method} {path}")
        except ScenarioError as exc:
            return bad(400, str(exc))
        except (ValueError, LookupError, TypeError, tomllib.TOMLDecodeError) as exc:
            return bad(400, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            return bad(500, f"{type(exc).__name__}: {exc}")

    def set_account_rules(self, spec: dict) -> dict:
        acct = spec.get("account")
        if not (isinstance(acct, str) and re.fullmatch(r"\d{12}", acct)):
            raise ValueError("account: 12 digits")
        if "assume_role" in spec:
            if spec["assume_role"] == "deny":
                self.deny_assume.add(acct)
            elif spec["assume_role"] == "allow":
                self.deny_assume.discard(acct)
            else:
                raise ValueError("assume_role: allow | deny")
        if "disabled_regions" in spec:
            regions = spec["disabled_regions"] or []
            if not isinstance(regions, list):
                raise ValueError("disabled_regions: a list of Region names")
            self.disabled_regions[acct] = frozenset(regions)
        return {"account": acct, "assume_role": "deny" if acct in self.deny_assume else "allow",
                "disabled_regions": sorted(self.disabled_regions.get(acct, ()))}


# ---------------------------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------------------------


class ScenarioError(ValueError):
    pass


def _check_keys(where: str, table: dict, allowed: set[str]) -> None:
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: expected a table")
    unknown = set(table) - allowed
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(allowed)})")


ACCOUNT_KEYS = {"id", "name", "email", "status", "assume_role", "disabled_regions", "macie", "buckets", "keys",
                "in_organization", "delegated_administrator_for", "account_block_public_access", "roles", "ou",
                "security_hub"}
MACIE_KEYS = {"region", "status", "created_at", "created_days_ago", "updated_at", "administrator",
              "relationship_status", "export", "finding_publishing_frequency"}
EXPORT_KEYS = {"bucket", "key_prefix", "kms_key_arn", "expected_bucket_owner"}
BUCKET_KEYS = {"name", "region", "block_public_access", "policy", "encryption", "versioning", "object_lock",
               "objects"}
BPA_KEYS = {"block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"}
ENCRYPTION_KEYS = {"sse", "kms_key", "bucket_key"}
POLICY_KEYS = {"name", "content", "targets", "description"}
KEY_KEYS = {"alias", "region", "policy", "state", "rotation", "spec", "usage", "manager", "description"}


def _check_ou_name(where: str, path: Any) -> None:
    """An OU by the names of its ancestors from the root down, e.g. "Workloads/Prod"."""
    if not isinstance(path, str) or not path or any(not part for part in path.split("/")):
        raise ScenarioError(f"{where}: an OU path of names such as \"Workloads/Prod\" is required")


def validate_scenario(sc: dict) -> dict:
    _check_keys("scenario", sc, {"organization", "accounts", "description", "name", "credentials"})
    if "credentials" in sc:
        try:
            Sessions.validate(sc["credentials"])
        except ValueError as exc:
            raise ScenarioError(f"[credentials]: {exc}") from None
    org = sc.get("organization", {})
    _check_keys("[organization]", org, {"enabled", "feature_set", "roles", "organizational_units",
                                        "resource_control_policies", "policies"})
    for ou in org.get("organizational_units", []):
        _check_ou_name("[organization].organizational_units", ou)
    policies = org.get("policies", [])
    if policies and org.get("resource_control_policies") is not True:
        # AWS refuses AttachPolicy of a type that is not enabled (PolicyTypeNotEnabledException)
        raise ScenarioError("[[organization.policies]]: needs [organization] resource_control_policies = true")
    for i, pol in enumerate(policies):
        where = f"[[organization.policies]][{i}]"
        _check_keys(where, pol, POLICY_KEYS)
        for k in ("name", "content"):
            if not isinstance(pol.get(k), str) or not pol[k]:
                raise ScenarioError(f"{where}.{k}: required")
        targets = pol.get("targets", [])
        if not isinstance(targets, list):
            raise ScenarioError(f"{where}.targets: a list such as [\"root\", \"ou:Security\", \"account:333333333333\"]")
        for t in targets:
            if not (t == "root" or (isinstance(t, str) and (t.startswith("ou:") or re.fullmatch(r"account:\d{12}", t)))):
                raise ScenarioError(f"{where}.targets: {t!r} is not \"root\", \"ou:<names>\" or \"account:<12 digits>\"")
    accounts = sc.get("accounts", [])
    if not isinstance(accounts, list):
        raise ScenarioError("accounts: expected [[accounts]] tables")
    seen: set[str] = set()
    for i, a in enumerate(accounts):
        where = f"accounts[{i}]"
        _check_keys(where, a, ACCOUNT_KEYS)
        aid = a.get("id")
        if not isinstance(aid, str) or not re.fullmatch(r"\d{12}", aid):
            raise ScenarioError(f"{where}.id: a 12-digit string is required")
        if aid in seen:
            raise ScenarioError(f"{where}.id: duplicate account id {aid}")
        seen.add(aid)
        if not isinstance(a.get("name"), str) or not a["name"]:
            raise ScenarioError(f"{where}.name: required")
        if "ou" in a:
            _check_ou_name(f"{where}.ou", a["ou"])
        if a.get("status", "ACTIVE") not in ("ACTIVE", "SUSPENDED", "PENDING_CLOSURE"):
            raise ScenarioError(f"{where}.status: ACTIVE | SUSPENDED | PENDING_CLOSURE")
        if aid == MANAGEMENT_ACCOUNT_ID and a.get("status", "ACTIVE") != "ACTIVE":
            raise ScenarioError(f"{where}: the management account must be ACTIVE")
        if a.get("assume_role", "allow") not in ("allow", "deny"):
            raise ScenarioError(f"{where}.assume_role: allow | deny")
        for m in a.get("macie", []):
            _check_keys(f"{where}.macie", m, MACIE_KEYS)
            if not isinstance(m.get("region"), str):
                raise ScenarioError(f"{where}.macie.region: required")
            if m.get("status", "ENABLED") not in ("ENABLED", "PAUSED"):
                raise ScenarioError(f"{where}.macie.status: ENABLED | PAUSED")
            if "export" in m:
                _check_keys(f"{where}.macie.export", m["export"], EXPORT_KEYS)
                for k in ("bucket", "kms_key_arn"):
                    if not isinstance(m["export"].get(k), str) or not m["export"][k]:
                        raise ScenarioError(f"{where}.macie.export.{k}: required")
        for b in a.get("buckets", []):
            _check_keys(f"{where}.buckets", b, BUCKET_KEYS)
            if not isinstance(b.get("name"), str):
                raise ScenarioError(f"{where}.buckets.name: required")
            if isinstance(b.get("block_public_access"), dict):
                _check_keys(f"{where}.buckets.block_public_access", b["block_public_access"], BPA_KEYS)
            if "encryption" in b:
                _check_keys(f"{where}.buckets.encryption", b["encryption"], ENCRYPTION_KEYS)
        for k in a.get("keys", []):
            _check_keys(f"{where}.keys", k, KEY_KEYS)
            if not isinstance(k.get("alias"), str) or not k["alias"]:
                raise ScenarioError(f"{where}.keys.alias: required")
            if k.get("state", "Enabled") not in ("Enabled", "Disabled", "PendingDeletion"):
                raise ScenarioError(f"{where}.keys.state: Enabled | Disabled | PendingDeletion")
            if k.get("manager", "CUSTOMER") not in ("CUSTOMER", "AWS"):
                raise ScenarioError(f"{where}.keys.manager: CUSTOMER | AWS")
        hub = a.get("security_hub", [])
        if not isinstance(hub, list) or not all(isinstance(r, str) and r for r in hub):
            raise ScenarioError(f"{where}.security_hub: a list of Regions")
        if isinstance(a.get("account_block_public_access"), dict):
            _check_keys(f"{where}.account_block_public_access", a["account_block_public_access"], BPA_KEYS)
    return sc


KEY_REF_RE = re.compile(r"^key:(?:(\d{12}):([a-z0-9-]+):)?(?:alias/)?(.+)$")
PLACEHOLDER_OU_RE = re.compile(r"\$\{(OU_ID|OU_PATH):([^}]+)\}")
PLACEHOLDER_KEY_RE = re.compile(r"\$\{KEY:(\d{12}):([a-z0-9-]+):(?:alias/)?([^}]+)\}")


class Seeder:
    """Builds a scenario through the AWS API (boto3 against the emulator itself)."""

    def __init__(self, layer: Layer):
        import boto3
        from botocore.config import Config

        self.layer = layer
        self.session = boto3.session.Session()
        self.config = Config(retries={"max_attempts": 2, "mode": "standard"}, s3={"addressing_style": "path"},
                             connect_timeout=10, read_timeout=60)
        self.creds: dict[str, dict] = {}
        self.clients: dict[tuple, Any] = {}
        self.keys: dict[tuple[str, str, str], str] = {}   # (account, region, alias) -> key ARN
        self.org_id = ""
        self.root_id = ""
        # OU name path ("Workloads/Prod") -> {"id": "ou-…", "path": "o-…/r-…/ou-…/"}
        self.units: dict[str, dict[str, str]] = {}
        # RCP name -> its id ("p-…")
        self.policies: dict[str, str] = {}

    # -- clients --
    def credentials(self, account: str) -> dict:
        if account in self.creds:
            return self.creds[account]
        if account == MANAGEMENT_ACCOUNT_ID:
            c = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": None}
        else:
            sts = self.client(MANAGEMENT_ACCOUNT_ID, "sts", "us-east-1")
            r = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ORG_ROLE_NAME}",
                                RoleSessionName="emulator-seed")["Credentials"]
            c = {"aws_access_key_id": r["AccessKeyId"], "aws_secret_access_key": r["SecretAccessKey"],
                 "aws_session_token": r["SessionToken"]}
        self.creds[account] = c
        return c

    def client(self, account: str, service: str, region: str) -> Any:
        k = (account, service, region)
        if k not in self.clients:
            self.clients[k] = self.session.client(service, region_name=region, endpoint_url=self.layer.base_url,
                                                  config=self.config, **self.credentials(account))
        return self.clients[k]

    # -- references --
    def resolve_key_ref(self, ref: str, account: str, region: str) -> str:
        """`key:<account>:<region>:<alias>` or `key:<alias>` -> the ARN of a key created by this scenario."""
        if not ref.startswith("key:"):
            return ref
        m = KEY_REF_RE.match(ref)
        if not m:
            raise ScenarioError(f"bad key reference {ref!r}")
        acct = m.group(1) or account
        reg = m.group(2) or region
        alias = m.group(3)
        arn = self.keys.get((acct, reg, alias))
        if arn is None:
            raise ScenarioError(f"key reference {ref!r}: no key with alias {alias!r} in {acct}/{reg} in this scenario")
        return arn

    def substitute(self, text: str, values: dict[str, str]) -> str:
        text = PLACEHOLDER_KEY_RE.sub(lambda m: self.resolve_key_ref(f"key:{m.group(1)}:{m.group(2)}:{m.group(3)}",
                                                                     "", ""), text)
        text = PLACEHOLDER_OU_RE.sub(lambda m: self.resolve_ou(m.group(1), m.group(2)), text)
        for k, v in {**values, "ORG_ID": self.org_id, "ROOT_ID": self.root_id}.items():
            text = text.replace("${" + k + "}", v)
        return text

    def resolve_ou(self, what: str, name: str) -> str:
        """`${OU_ID:Workloads/Prod}` or `${OU_PATH:Workloads/Prod}` -> the OU's id or its path."""
        unit = self.units.get(name)
        if unit is None:
            raise ScenarioError(f"${{{what}:{name}}}: no OU {name!r} in this scenario")
        return unit["id"] if what == "OU_ID" else unit["path"]

    def _seed_organizational_units(self, org: Any, sc: dict, accounts: list[dict]) -> None:
        """Creates the OUs the scenario names (each ancestor first) and moves accounts into theirs."""
        self.root_id = org.list_roots()["Roots"][0]["Id"]
        names = list(sc.get("organization", {}).get("organizational_units", []))
        names += [a["ou"] for a in accounts if a.get("ou")]
        for name in names:
            parent_id, parent_path, walked = self.root_id, f"{self.org_id}/{self.root_id}/", []
            for part in name.split("/"):
                walked.append(part)
                key = "/".join(walked)
                if key not in self.units:
                    ou = org.create_organizational_unit(ParentId=parent_id, Name=part)["OrganizationalUnit"]
                    self.units[key] = {"id": ou["Id"], "path": f"{parent_path}{ou['Id']}/"}
                parent_id, parent_path = self.units[key]["id"], self.units[key]["path"]
        for a in accounts:
            if a.get("ou") and a.get("in_organization", True):
                org.move_account(AccountId=a["id"], SourceParentId=self.root_id,
                                 DestinationParentId=self.units[a["ou"]]["id"])

    def _seed_resource_control_policies(self, org: Any, sc: dict) -> None:
        """EnablePolicyType RESOURCE_CONTROL_POLICY on the root, then CreatePolicy and AttachPolicy for each
        `[[organization.policies]]` (placeholders substituted in its content)."""
        spec = sc.get("organization", {})
        if not spec.get("resource_control_policies"):
            return
        org.enable_policy_type(RootId=self.root_id, PolicyType="RESOURCE_CONTROL_POLICY")
        for pol in spec.get("policies", []):
            created = org.create_policy(Content=self.substitute(pol["content"], {}),
                                        Description=pol.get("description", pol["name"]), Name=pol["name"],
                                        Type="RESOURCE_CONTROL_POLICY")["Policy"]["PolicySummary"]
            self.policies[pol["name"]] = created["Id"]
            for target in pol.get("targets", []):
                if target == "root":
                    target_id = self.root_id
                elif target.startswith("ou:"):
                    target_id = self.resolve_ou("OU_ID", target.removeprefix("ou:"))
                else:
                    target_id = target.removeprefix("account:")
                org.attach_policy(PolicyId=created["Id"], TargetId=target_id)

    # -- the whole scenario --
    def seed(self, scenario: dict) -> dict:
        sc = validate_scenario(scenario)
        layer = self.layer
        if not layer.seed_lock.acquire(blocking=False):
            raise ScenarioError("a scenario is being loaded")
        try:
            if layer.scenario_result is not None:
                raise ScenarioError("a scenario was already loaded in this emulator process")
            layer.seeding = True
            try:
                result = self._seed(sc)
            finally:
                layer.seeding = False
            layer.scenario_result = result
            layer.sessions.set(sc.get("credentials", {}))
            layer.counters.reset()
            return result
        finally:
            layer.seed_lock.release()

    def _seed(self, sc: dict) -> dict:
        layer = self.layer
        org_enabled = sc.get("organization", {}).get("enabled", True)
        accounts = sc.get("accounts", [])
        by_id = {a["id"]: a for a in accounts}
        mgmt = MANAGEMENT_ACCOUNT_ID
        org = self.client(mgmt, "organizations", "us-east-1")

        # 1. organization and accounts
        if org_enabled:
            self.org_id = org.create_organization(
                FeatureSet=sc.get("organization", {}).get("feature_set", "ALL"))["Organization"]["Id"]
            for a in accounts:
                if a["id"] == mgmt or not a.get("in_organization", True):
                    continue
                with _ACCOUNT_ID_LOCK:
                    _ACCOUNT_ID_QUEUE.clear()
                    _ACCOUNT_ID_QUEUE.append(a["id"])
                r = org.create_account(Email=a.get("email") or f"aws+{a['id']}@example.com", AccountName=a["name"])
                got = r["CreateAccountStatus"].get("AccountId")
                if got != a["id"]:
                    raise ScenarioError(f"CreateAccount gave {got}, wanted {a['id']}")
            backend = organizations_backends[mgmt][PARTITION]
            for fa in backend.accounts:
                spec = by_id.get(fa.id)
                if spec is not None:
                    fa.name = spec["name"]  # exact (CreateAccount may have been given the same string)
                    if fa.id == mgmt and spec.get("email"):
                        fa.email = spec["email"]
                    if fa.id == mgmt:
                        backend.org.master_account_email = fa.email
            self._seed_organizational_units(org, sc, accounts)
            self._seed_resource_control_policies(org, sc)
            for a in accounts:
                for service in a.get("delegated_administrator_for", []):
                    org.register_delegated_administrator(AccountId=a["id"], ServicePrincipal=service)

        # IAM roles the scanner may assume besides OrganizationAccountAccessRole
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{mgmt}:root"}, "Action": "sts:AssumeRole"}]})
        for a in accounts:
            names = list(sc.get("organization", {}).get("roles", [])) + list(a.get("roles", []))
            for role in dict.fromkeys(names):
                self.client(a["id"], "iam", "us-east-1").create_role(RoleName=role, AssumeRolePolicyDocument=trust)

        # 2. KMS keys (first: buckets and Macie refer to them)
        created: list[tuple[dict, dict, str, str]] = []
        for a in accounts:
            for k in a.get("keys", []):
                region = k.get("region", "us-east-1")
                alias = k["alias"].removeprefix("alias/")
                kms = self.client(a["id"], "kms", region)
                spec = k.get("spec", "SYMMETRIC_DEFAULT")
                usage = k.get("usage") or ("SIGN_VERIFY" if spec.startswith("ECC") else
                                           "GENERATE_VERIFY_MAC" if spec.startswith("HMAC") else "ENCRYPT_DECRYPT")
                meta = kms.create_key(KeySpec=spec, KeyUsage=usage,
                                      Description=k.get("description", f"{alias} key"))["KeyMetadata"]
                self.keys[(a["id"], region, alias)] = meta["Arn"]
                created.append((a, k, meta["KeyId"], meta["Arn"]))
                if alias.startswith("aws/"):
                    # reserved alias names cannot be created through the API: set it on moto's model
                    kms_backends[a["id"]][region].create_alias(meta["KeyId"], f"alias/{alias}")
                else:
                    kms.create_alias(AliasName=f"alias/{alias}", TargetKeyId=meta["KeyId"])
        for a, k, key_id, arn in created:
            region = k.get("region", "us-east-1")
            kms = self.client(a["id"], "kms", region)
            if k.get("policy"):
                policy = self.substitute(k["policy"], {"ACCOUNT": a["id"], "REGION": region, "KEY_ARN": arn})
                kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy)
            if k.get("rotation"):
                kms.enable_key_rotation(KeyId=key_id)
            if k.get("manager", "CUSTOMER") == "AWS":
                kms_backends[a["id"]][region].keys[key_id].key_manager = "AWS"
            state = k.get("state", "Enabled")
            if state == "Disabled":
                kms.disable_key(KeyId=key_id)
            elif state == "PendingDeletion":
                kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

        # 3. buckets
        for a in accounts:
            if a.get("account_block_public_access"):
                bpa = a["account_block_public_access"]
                conf = _bpa_config(bpa)
                s3control_backends[a["id"]][PARTITION].put_public_access_block(a["id"], conf)
            for b in a.get("buckets", []):
                region = b.get("region", "us-east-1")
                s3 = self.client(a["id"], "s3", region)
                kwargs: dict = {"Bucket": b["name"]}
                if region != "us-east-1":
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
                if b.get("object_lock"):
                    kwargs["ObjectLockEnabledForBucket"] = True
                s3.create_bucket(**kwargs)
                bpa = b.get("block_public_access")
                if bpa:
                    s3.put_public_access_block(Bucket=b["name"], PublicAccessBlockConfiguration=_bpa_config(bpa))
                if b.get("policy"):
                    policy = self.substitute(b["policy"], {"ACCOUNT": a["id"], "BUCKET": b["name"], "REGION": region})
                    s3.put_bucket_policy(Bucket=b["name"], Policy=policy)
                enc = b.get("encryption")
                if enc:
                    rule: dict = {"SSEAlgorithm": enc.get("sse", "aws:kms")}
                    if enc.get("kms_key"):
                        rule["KMSMasterKeyID"] = self.resolve_key_ref(enc["kms_key"], a["id"], region)
                    conf = {"ApplyServerSideEncryptionByDefault": rule}
                    if "bucket_key" in enc:
                        conf["BucketKeyEnabled"] = bool(enc["bucket_key"])
                    s3.put_bucket_encryption(Bucket=b["name"],
                                             ServerSideEncryptionConfiguration={"Rules": [conf]})
                v = b.get("versioning")
                if v:
                    s3.put_bucket_versioning(Bucket=b["name"], VersioningConfiguration={
                        "Status": v if isinstance(v, str) else "Enabled"})
                for key in b.get("objects", []):
                    s3.put_object(Bucket=b["name"], Key=self.substitute(key, {"ACCOUNT": a["id"], "REGION": region}),
                                  Body=b"{}\n")

        # 4. Security Hub (EnableSecurityHub with the account's credentials, no default standards)
        for a in accounts:
            for region in a.get("security_hub", []):
                self.client(a["id"], "securityhub", region).enable_security_hub(EnableDefaultStandards=False)

        # 5. Macie
        for a in accounts:
            for m in a.get("macie", []):
                region = m["region"]
                macie = self.client(a["id"], "macie2", region)
                macie.enable_macie(findingPublishingFrequency=m.get("finding_publishing_frequency", "FIFTEEN_MINUTES"),
                                   status="ENABLED")
                if m.get("status", "ENABLED") == "PAUSED":
                    macie.update_macie_session(status="PAUSED")
                exp = m.get("export")
                if exp:
                    dest = {"bucketName": exp["bucket"],
                            "kmsKeyArn": self.resolve_key_ref(exp["kms_key_arn"], a["id"], region)}
                    if exp.get("key_prefix") is not None:
                        dest["keyPrefix"] = exp["key_prefix"]
                    if exp.get("expected_bucket_owner"):
                        dest["expectedBucketOwner"] = exp["expected_bucket_owner"]
                    macie.put_classification_export_configuration(configuration={"s3Destination": dest})
                state: dict = {"account": a["id"], "region": region}
                for k in ("created_at", "created_days_ago", "updated_at", "administrator", "relationship_status"):
                    if m.get(k) is not None:
                        state[k] = m[k]
                if len(state) > 2:
                    layer.macie.set_state(state)

        # 6. closed accounts (after their resources exist)
        if org_enabled:
            backend = organizations_backends[mgmt][PARTITION]
            for a in accounts:
                status = a.get("status", "ACTIVE")
                if status == "SUSPENDED" and a.get("in_organization", True):
                    org.close_account(AccountId=a["id"])
                elif status == "PENDING_CLOSURE" and a.get("in_organization", True):
                    fa = backend.get_account_by_id(a["id"])
                    fa.status = "PENDING_CLOSURE"
                    fa.state = "PENDING_CLOSURE"

        # 7. rules that AWS has no API for
        for a in accounts:
            explicit = a.get("assume_role")
            closed = a.get("status", "ACTIVE") != "ACTIVE"
            if explicit == "deny" or (explicit is None and closed):
                layer.deny_assume.add(a["id"])
            if a.get("disabled_regions"):
                layer.disabled_regions[a["id"]] = frozenset(a["disabled_regions"])

        names = {a["name"]: a["id"] for a in accounts}
        return {
            "management_account_id": mgmt,
            "accounts": names,
            "account_list": [{"id": a["id"], "name": a["name"]} for a in accounts],
            "keys": {f"{acct}:{region}:{alias}": arn for (acct, region, alias), arn in sorted(self.keys.items())},
            "organization_id": self.org_id,
            "root_id": self.root_id,
            "organizational_units": dict(sorted(self.units.items())),
            "policies": dict(sorted(self.policies.items())),
        }


def _bpa_config(bpa: Any) -> dict:
    if bpa is True:
        return {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True}
    if isinstance(bpa, dict):
        return {"BlockPublicAcls": bool(bpa.get("block_public_acls", False)),
                "IgnorePublicAcls": bool(bpa.get("ignore_public_acls", False)),
                "BlockPublicPolicy": bool(bpa.get("block_public_policy", False)),
                "RestrictPublicBuckets": bool(bpa.get("restrict_public_buckets", False))}
    raise ScenarioError(f"block_public_access: true or a table, not {bpa!r}")


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


class KeepAliveHandler(MotoRequestHandler):
    """werkzeug's dev server sends `Connection: close` after every response because it cannot drain
    an unread request body.  The layer always reads the whole body (see read_body), so HTTP/1.1
    keep-alive is safe here, and the SDK's connection pool behaves as it does against AWS."""

    keep_alive = True

    def send_header(self, keyword: str, value: str) -> None:
        if self.keep_alive and keyword.lower() == "connection" and value.lower() == "close":
            # keep the connection unless the client asked to close it
            self.close_connection = self.headers.get("Connection", "").lower() == "close"
            if self.close_connection:
                super().send_header(keyword, value)
            return
        super().send_header(keyword, value)


class _NoDrainSelectors:
    """Stands in for the `selectors` module inside werkzeug.serving.  After each response werkzeug
    drains the socket for 10 ms (it assumes the connection is closed next); with keep-alive that
    would swallow the client's next request.  The layer always consumes request bodies itself."""

    EVENT_READ = 1

    class DefaultSelector:
        def register(self, *args: Any, **kwargs: Any) -> None:
            pass

        def select(self, timeout: Any = None) -> list:
            return []

        def close(self) -> None:
            pass


def enable_keep_alive() -> None:
    import werkzeug.serving as wz

    wz.selectors = _NoDrainSelectors  # type: ignore[assignment]


class QuietHandler(KeepAliveHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="moto + fidelity layer for macie-audit tests")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--scenario", help="scenario file (TOML, or JSON if it ends in .json)")
    parser.add_argument("--pid-file")
    parser.add_argument("--quiet", action="store_true", help="no request log (the default)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--no-keepalive", action="store_true",
                        help="close the connection after every response (werkzeug's default)")
    args = parser.parse_args(argv)

    quiet = not args.verbose
    logging.getLogger("werkzeug").setLevel(logging.ERROR if quiet else logging.INFO)
    if not quiet:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")

    scenario = None
    if args.scenario:
        with open(args.scenario, "rb") as f:
            raw = f.read()
        scenario = json.loads(raw) if args.scenario.endswith(".json") else tomllib.loads(raw.decode("utf-8"))
        validate_scenario(scenario)

    layer = Layer(quiet=quiet)
    if args.no_keepalive:
        KeepAliveHandler.keep_alive = False
    else:
        enable_keep_alive()
    server = make_server(args.host, args.port, layer, threaded=True,
                         request_handler=QuietHandler if quiet else KeepAliveHandler)
    host = args.host if ":" not in args.host else f"[{args.host}]"
    layer.base_url = f"http://{host}:{server.server_port}"
    os.environ.setdefault("MOTO_PORT", str(server.server_port))

    stop = threading.Event()
    ready = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
        if not ready.is_set():
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(f"{os.getpid()}\n")

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    code = 0
    try:
        if scenario is not None:
            Seeder(layer).seed(scenario)
        ready.set()
        sys.stdout.write(f"READY {layer.base_url}\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    except SystemExit:
        pass
    except Exception:
        traceback.print_exc(file=sys.stderr)
        code = 1
    finally:
        server.shutdown()
        server.server_close()
        if args.pid_file:
            try:
                os.unlink(args.pid_file)
            except OSError:
                pass
    return code


if __name__ == "__main__":
    sys.exit(main())
