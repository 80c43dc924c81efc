"""A small Hugging Face Hub on 127.0.0.1: the endpoints huggingface_hub 2.4.0 calls to push a dataset (or a model).

Implements, for dataset repos (model repos alike, under ``/api/models/`` and ``/{repo}``):
``POST /api/repos/create``, ``GET /api/datasets/{repo}[/revision/{rev}]``,
``POST /api/validate-yaml``, ``POST /api/datasets/{repo}/branch/{branch}``,
``POST /api/datasets/{repo}/preupload/{rev}`` (``.parquet``/``.png`` answered as LFS, the rest regular),
``POST /datasets/{repo}.git/info/lfs/objects/batch`` (basic transfer) with the upload ``PUT`` and
verify ``POST`` it hands out, ``POST /api/datasets/{repo}/commit/{rev}`` (NDJSON) and
``HEAD``/``GET /datasets/{repo}/resolve/{rev}/{path}``. Requests need ``Authorization: Bearer``
with a known token, else 401 as the Hub answers it. Files land in ``repos[repo][rev]`` as bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".parquet", ".png", ".arrow", ".safetensors", ".onnx")


def git_blob_sha1(data: bytes) -> str:
    """Git's object id of a blob (what the Hub reports as a regular file's oid)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubStub:
    """The Hub state plus a threaded HTTP server serving it; use as a context manager."""

    def __init__(self, tokens: tuple[str, ...] = ("hf_stub_token",), user: str = "stub-user") -> None:
        self.tokens, self.user = set(tokens), user
        self.repos: dict[str, dict[str, dict[str, bytes]]] = {}  # repo → revision → path → content
        self.private: dict[str, bool] = {}
        self.commits: list[dict[str, Any]] = []
        self.lfs: dict[str, bytes] = {}  # sha256 → content
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HubStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                hub.dispatch(self, "GET")

            def do_HEAD(self) -> None:
                hub.dispatch(self, "HEAD")

            def do_POST(self) -> None:
                hub.dispatch(self, "POST")

            def do_PUT(self) -> None:
                hub.dispatch(self, "PUT")

        return Handler

    # -- plumbing -------------------------------------------------------------------------------

    @staticmethod
    def _body(req: BaseHTTPRequestHandler) -> bytes:
        if req.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(req.rfile.readline().strip(), 16)
                if size == 0:
                    req.rfile.readline()
                    return out
                out += req.rfile.read(size)
                req.rfile.readline()
        return req.rfile.read(int(req.headers.get("Content-Length") or 0))

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, body: Any = None, headers: dict[str, str] | None = None,
              head: bool = False) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body if body is not None else {}).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/octet-stream" if isinstance(body, bytes) else "application/json")
        req.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            req.send_header(k, v)
        req.end_headers()
        if not head:
            req.wfile.write(data)

    def _sign(self, oid: str) -> str:
        return hashlib.sha256(f"{self.url}:{oid}".encode()).hexdigest()[:16]

    def _authorized(self, req: BaseHTTPRequestHandler) -> bool:
        m = re.fullmatch(r"/lfs-upload/([0-9a-f]{64})\?sig=(\w+)", req.path)
        if req.command == "PUT" and m:
            return m.group(2) == self._sign(m.group(1))
        auth = req.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[len("Bearer "):] in self.tokens

    def _head_sha(self, repo: str, rev: str) -> str:
        files = self.repos[repo][rev]
        return hashlib.sha1(json.dumps(sorted((p, hashlib.sha256(c).hexdigest()) for p, c in files.items()))
                            .encode()).hexdigest()

    def dispatch(self, req: BaseHTTPRequestHandler, method: str) -> None:
        """Route one request (called from the server's handler threads)."""
        path = unquote(urlsplit(req.path).path)
        body = self._body(req) if method in ("POST", "PUT") else b""
        with self._lock:
            self.requests.append((method, path))
            if not self._authorized(req):
                self._send(req, 401, {"error": "Invalid credentials in Authorization header"},
                           {"X-Error-Message": "Invalid credentials in Authorization header"}, head=method == "HEAD")
                return
            for pattern, handler in self._routes():
                m = re.fullmatch(pattern, f"{method} {path}")
                if m:
                    handler(req, body, **m.groupdict())
                    return
            self._send(req, 404, {"error": f"stub: no route for {method} {path}"})

    def _routes(self) -> list[tuple[str, Any]]:
        repo = r"(?P<repo>[\w.-]+/[\w.-]+)"
        kind, prefix = "(?:datasets|models)", "(?:datasets/)?"  # model repos: /api/models/..., /{repo}.git/...
        return [
            (r"POST /api/repos/create", self._create_repo),
            (r"POST /api/validate-yaml", self._validate_yaml),
            (rf"GET /api/{kind}/{repo}(?:/revision/(?P<rev>[^/]+))?", self._repo_info),
            (rf"POST /api/{kind}/{repo}/branch/(?P<branch>[^/]+)", self._create_branch),
            (rf"POST /api/{kind}/{repo}/preupload/(?P<rev>[^/]+)", self._preupload),
            (rf"POST /{prefix}{repo}\.git/info/lfs/objects/batch", self._lfs_batch),
            (r"PUT /lfs-upload/(?P<oid>[0-9a-f]{64})", self._lfs_put),
            (r"POST /lfs-verify", self._lfs_verify),
            (rf"POST /api/{kind}/{repo}/commit/(?P<rev>[^/]+)", self._commit),
            (rf"(?P<method>GET|HEAD) /{prefix}{repo}/resolve/(?P<rev>[^/]+)/(?P<file>.+)", self._resolve),
        ]

    def _missing_repo(self, req: BaseHTTPRequestHandler, repo: str, head: bool = False) -> bool:
        if repo in self.repos:
            return False
        self._send(req, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}, head=head)
        return True

    # -- endpoints ------------------------------------------------------------------------------

    def _create_repo(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        payload = json.loads(body)
        repo = f"{payload.get('organization') or self.user}/{payload['name']}"
        if repo in self.repos:
            self._send(req, 409, {"error": "You already created this dataset repo", "url": f"{self.url}/datasets/{repo}"})
            return
        self.repos[repo] = {"main": {}}
        self.private[repo] = payload.get("visibility") == "private" or bool(payload.get("private"))
        self._send(req, 200, {"url": f"{self.url}/datasets/{repo}", "name": repo})

    def _validate_yaml(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        import yaml

        content = json.loads(body)["content"]
        m = re.match(r"\A---\n(.*?)\n---\n", content, re.S)
        try:
            meta = yaml.safe_load(m.group(1)) if m else None
        except yaml.YAMLError as e:
            self._send(req, 400, {"errors": [{"message": f"invalid YAML: {e}"}]})
            return
        ok = isinstance(meta, dict)
        self._send(req, 200 if ok else 400, {"errors": [] if ok else [{"message": "metadata must be a mapping"}],
                                             "warnings": []})

    def _repo_info(self, req: BaseHTTPRequestHandler, body: bytes, repo: str, rev: str | None) -> None:
        if self._missing_repo(req, repo):
            return
        rev = rev or "main"
        files = self.repos[repo].get(rev, {})
        self._send(req, 200, {"id": repo, "private": self.private[repo], "sha": self._head_sha(repo, rev),
                              "siblings": [{"rfilename": p} for p in sorted(files)]})

    def _create_branch(self, req: BaseHTTPRequestHandler, body: bytes, repo: str, branch: str) -> None:
        if self._missing_repo(req, repo):
            return
        if branch in self.repos[repo]:
            self._send(req, 409, {"error": "Reference already exists"})
            return
        self.repos[repo][branch] = dict(self.repos[repo]["main"])
        self._send(req, 200, {})

    def _preupload(self, req: BaseHTTPRequestHandler, body: bytes, repo: str, rev: str) -> None:
        if self._missing_repo(req, repo):
            return
        existing = self.repos[repo].get(rev, {})
        files = []
        for f in json.loads(body)["files"]:
            lfs = f["path"].endswith(LFS_SUFFIXES)
            old = existing.get(f["path"])
            oid = None if old is None else hashlib.sha256(old).hexdigest() if lfs else git_blob_sha1(old)
            files.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                          "oid": oid})
        self._send(req, 200, {"files": files})

    def _lfs_batch(self, req: BaseHTTPRequestHandler, body: bytes, repo: str) -> None:
        if self._missing_repo(req, repo):
            return
        objects = []
        for obj in json.loads(body)["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.lfs:
                # Like a presigned storage URL: the upload carries no Authorization header.
                entry["actions"] = {"upload": {"href": f"{self.url}/lfs-upload/{obj['oid']}?sig={self._sign(obj['oid'])}"},
                                    "verify": {"href": f"{self.url}/lfs-verify"}}
            objects.append(entry)
        self._send(req, 200, {"transfer": "basic", "objects": objects})

    def _lfs_put(self, req: BaseHTTPRequestHandler, body: bytes, oid: str) -> None:
        if hashlib.sha256(body).hexdigest() != oid:
            self._send(req, 400, {"error": "content does not match oid"})
            return
        self.lfs[oid] = body
        self._send(req, 200, {})

    def _lfs_verify(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        obj = json.loads(body)
        ok = obj["oid"] in self.lfs and len(self.lfs[obj["oid"]]) == obj["size"]
        self._send(req, 200 if ok else 404, {} if ok else {"error": "object not found"})

    def _commit(self, req: BaseHTTPRequestHandler, body: bytes, repo: str, rev: str) -> None:
        if self._missing_repo(req, repo):
            return
        if rev not in self.repos[repo]:
            self._send(req, 404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"})
            return
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next(x["value"] for x in lines if x["key"] == "header")
        staged = dict(self.repos[repo][rev])
        for item in lines:
            value = item["value"]
            if item["key"] == "file":
                staged[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] == "lfsFile":
                if value["oid"] not in self.lfs:
                    self._send(req, 422, {"error": f"LFS object {value['oid']} was never uploaded"})
                    return
                staged[value["path"]] = self.lfs[value["oid"]]
            elif item["key"] == "deletedFile":
                staged.pop(value["path"], None)
        self.repos[repo][rev] = staged
        sha = self._head_sha(repo, rev)
        self.commits.append({"repo": repo, "revision": rev, "summary": header["summary"], "oid": sha,
                             "paths": [x["value"]["path"] for x in lines if x["key"] != "header"]})
        self._send(req, 200, {"commitUrl": f"{self.url}/datasets/{repo}/commit/{sha}", "commitOid": sha,
                              "success": True})

    def _resolve(self, req: BaseHTTPRequestHandler, body: bytes, method: str, repo: str, rev: str, file: str) -> None:
        head = method == "HEAD"
        if self._missing_repo(req, repo, head=head):
            return
        if rev not in self.repos[repo]:
            self._send(req, 404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"}, head=head)
            return
        content = self.repos[repo][rev].get(file)
        if content is None:
            self._send(req, 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"}, head=head)
            return
        self._send(req, 200, content, {"X-Repo-Commit": self._head_sha(repo, rev),
                                       "ETag": f'"{git_blob_sha1(content)}"'}, head=head)
