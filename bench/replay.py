"""A fast emulator for the benchmark: replays answers recorded from the moto emulator.

    replay.py record --upstream http://127.0.0.1:PORT --out FILE --port P   # a recording proxy
    replay.py serve --recording FILE --port P                              # the replay server

Both print `READY http://127.0.0.1:P` on stdout when they serve. One asyncio process, raw HTTP/1.1
with keep-alive, no dependency beyond the standard library. A request is identified by its access
key, Region, service, method, path and query, X-Amz-Target and body (never the Host header or the
signature), so the scanner's run against the replay gets exactly what moto answered to the same
request; AssumeRole answers are replayed verbatim (the same access keys), with their Expiration
moved to one hour from now.

The control API mirrors the moto emulator's for what the benchmark needs: `GET /_emulator/health`,
`POST /_emulator/faults` (`latency_ms`, slept before answering, outside any lock: requests in
flight overlap), `GET /_emulator/counters` (`operations` by label `service:Operation`, and
`unrecorded`: requests the recording does not have, answered 500), `POST /_emulator/counters/reset`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import json
import re
import sys
import urllib.parse

MANAGEMENT = "123456789012"
DROPPED_HEADERS = {"content-length", "connection", "date", "server", "transfer-encoding", "keep-alive"}
CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/")

MACIE_PATHS = {
    "/macie": "GetMacieSession",
    "/administrator": "GetAdministratorAccount",
    "/classification-export-configuration": "GetClassificationExportConfiguration",
}
S3_SUBRESOURCES = {
    "location": "GetBucketLocation",
    "policy": "GetBucketPolicy",
    "publicAccessBlock": "GetPublicAccessBlock",
    "policyStatus": "GetBucketPolicyStatus",
    "encryption": "GetBucketEncryption",
    "versioning": "GetBucketVersioning",
    "object-lock": "GetObjectLockConfiguration",
}


class Request:
    __slots__ = ("method", "target", "headers", "body")

    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.target, self.headers, self.body = method, target, headers, body

    def scope(self) -> tuple[str, str, str]:
        m = CREDENTIAL.search(self.headers.get("authorization", ""))
        return (m.group(1), m.group(2), m.group(3)) if m else ("", "", "")

    def key(self) -> str:
        akid, region, service = self.scope()
        return json.dumps([akid, region, service, self.method, self.target,
                           self.headers.get("x-amz-target", ""), self.body.decode("latin-1")])

    def label(self) -> str:
        _, _, service = self.scope()
        path, _, query = self.target.partition("?")
        if "x-amz-target" in self.headers:
            return f"{service}:{self.headers['x-amz-target'].rpartition('.')[2]}"
        if service == "sts":
            form = urllib.parse.parse_qs(self.body.decode("latin-1"))
            return f"sts:{form.get('Action', ['?'])[0]}"
        if service == "macie2":
            return f"macie2:{MACIE_PATHS.get(path, self.method + ' ' + path)}"
        if service == "s3" and path.startswith("/v20180820/configuration/publicAccessBlock"):
            return "s3control:GetPublicAccessBlock"
        if service == "s3":
            keys = [p.partition("=")[0] for p in query.split("&") if p]
            for k in keys:
                if k in S3_SUBRESOURCES and self.method == "GET":
                    return f"s3:{S3_SUBRESOURCES[k]}"
            if path in ("", "/"):
                return "s3:ListBuckets"
            if self.method == "HEAD":
                return "s3:HeadBucket" if path.count("/") == 1 else "s3:HeadObject"
            return f"s3:{self.method} {path}"
        return f"{service}:{self.method} {path}"


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    return Request(method, target, headers, body)


def encode_response(status: int, headers: list[tuple[str, str]], body: bytes, head_only: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"Content-Length: {len(body)}")
    out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return out if head_only else out + body


async def read_response(reader: asyncio.StreamReader, head_only: bool) -> tuple[int, list, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = []
    length = None
    chunked = False
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        lname = name.strip().lower()
        if lname == "content-length":
            length = int(value.strip())
        if lname == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        if lname not in DROPPED_HEADERS:
            headers.append((name.strip(), value.strip()))
    body = b""
    if head_only:
        return status, headers, body
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    elif length:
        body = await reader.readexactly(length)
    return status, headers, body


class Server:
    def __init__(self) -> None:
        self.latency = 0.0
        self.operations: collections.Counter = collections.Counter()
        self.unrecorded: collections.Counter = collections.Counter()

    def control(self, request: Request) -> tuple[int, dict]:
        path = request.target.partition("?")[0]
        if path == "/_emulator/health":
            return 200, {"ok": True}
        if path == "/_emulator/faults" and request.method == "POST":
            settings = json.loads(request.body or b"{}")
            self.latency = float(settings.get("latency_ms", 0) or 0) / 1000.0
            return 200, {"latency_ms": self.latency * 1000.0}
        if path == "/_emulator/counters/reset":
            self.operations.clear()
            self.unrecorded.clear()
            return 200, {"ok": True}
        if path == "/_emulator/counters":
            return 200, {"operations": dict(sorted(self.operations.items())),
                         "unrecorded": dict(sorted(self.unrecorded.items()))}
        return 404, {"error": f"no control route {path}"}

    async def answer(self, request: Request) -> tuple[int, list, bytes]:
        raise NotImplementedError

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    break
                if request.target.startswith("/_emulator/"):
                    status, doc = self.control(request)
                    payload = json.dumps(doc).encode()
                    writer.write(encode_response(status, [("Content-Type", "application/json")], payload, False))
                else:
                    label = request.label()
                    self.operations[label] += 1
                    if self.latency:
                        await asyncio.sleep(self.latency)
                    status, headers, body = await self.answer(request)
                    if status == 599:
                        self.unrecorded[label] += 1
                        status = 500
                    writer.write(encode_response(status, headers, body, request.method == "HEAD"))
                await writer.drain()
                if request.headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


class Replay(Server):
    def __init__(self, recording: str) -> None:
        super().__init__()
        self.answers: dict[str, tuple[int, list, bytes]] = {}
        expiration = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ").encode()
        with open(recording, encoding="utf-8") as f:
            for line in f:
                entry = json.loads(line)
                body = entry["body"].encode("latin-1")
                body = re.sub(rb"<Expiration>[^<]*</Expiration>", b"<Expiration>" + expiration + b"</Expiration>", body)
                self.answers[entry["key"]] = (entry["status"], [tuple(h) for h in entry["headers"]], body)

    async def answer(self, request: Request) -> tuple[int, list, bytes]:
        found = self.answers.get(request.key())
        if found is None:
            return 599, [("Content-Type", "text/plain")], b"not in the recording"
        return found


class Recorder(Server):
    def __init__(self, upstream: str, out: str) -> None:
        super().__init__()
        parsed = urllib.parse.urlsplit(upstream)
        self.host, self.port = parsed.hostname, parsed.port
        self.out = open(out, "w", encoding="utf-8")
        self.pool: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def answer(self, request: Request) -> tuple[int, list, bytes]:
        connection = self.pool.pop() if self.pool else await asyncio.open_connection(self.host, self.port)
        reader, writer = connection
        lines = [f"{request.method} {request.target} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in request.headers.items()
                  if k not in ("content-length", "connection")]
        lines.append(f"Content-Length: {len(request.body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body)
        await writer.drain()
        status, headers, body = await read_response(reader, request.method == "HEAD")
        self.pool.append(connection)
        self.out.write(json.dumps({"key": request.key(), "label": request.label(), "status": status,
                                   "headers": headers, "body": body.decode("latin-1")}) + "\n")
        self.out.flush()
        return status, headers, body


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    record = sub.add_parser("record")
    record.add_argument("--upstream", required=True)
    record.add_argument("--out", required=True)
    record.add_argument("--port", type=int, required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("--recording", required=True)
    serve.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = Recorder(args.upstream, args.out) if args.mode == "record" else Replay(args.recording)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", args.port, backlog=1024)
    print(f"READY http://127.0.0.1:{args.port}", flush=True)
    async with listener:
        await listener.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
