"""A small Hugging Face Hub look-alike on 127.0.0.1 for tests over real HTTP.

It implements what ``huggingface_hub`` (2.x, classic LFS path: ``HF_HUB_DISABLE_XET=1``) and
``datasets.load_dataset`` call to create a dataset repo, pre-upload, upload LFS objects, commit
(NDJSON), list the tree / paths-info, resolve (download) files and read repo info. Repos live in
memory; every request is recorded in ``server.requests`` and unknown ones in ``server.unknown``
so a test can show what a client asked for. ``fail_once`` makes the next request of a kind
(``"commit"``, ``"lfs-upload"``, ...) answer 500 with a message, to test retries.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

REPO = r"(?P<repo>[^/]+/[^/]+?)"
REGULAR_LIMIT_BYTES = 10 * 1024 * 1024  # larger files (and every .parquet) go through LFS, as on the Hub


def git_oid(content: bytes) -> str:
    """The git blob sha1 of ``content`` (the oid of a regular file)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class StoredFile:
    """A file at one revision: its bytes and whether it is an LFS file."""

    content: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        """The LFS oid."""
        return hashlib.sha256(self.content).hexdigest()

    @property
    def oid(self) -> str:
        """The oid the API reports (git sha1 of the file, or of its LFS pointer for LFS files)."""
        if not self.lfs:
            return git_oid(self.content)
        pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(self.content)}\n"
        return git_oid(pointer.encode())

    def entry(self, path: str) -> dict[str, Any]:
        """The tree / paths-info entry."""
        item: dict[str, Any] = {"type": "file", "oid": self.oid, "size": len(self.content), "path": path}
        if self.lfs:
            item["lfs"] = {"oid": self.sha256, "size": len(self.content), "pointerSize": 134}
        return item


@dataclass
class Repo:
    """A dataset repo: branches -> (head sha, files)."""

    private: bool
    branches: dict[str, tuple[str, dict[str, StoredFile]]] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)


class HubState:
    """The server's memory, shared by the handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.unknown: list[str] = []
        self.authorizations: list[str] = []
        self.failures: dict[str, int] = {}
        self.lfs_puts = 0
        self.token = ""

    def fail_once(self, kind: str) -> None:
        """Answer the next ``kind`` request (``commit``, ``lfs-upload``, ``preupload``, ...) with a 500."""
        self.failures[kind] = self.failures.get(kind, 0) + 1


class Handler(BaseHTTPRequestHandler):
    """Routes Hub API requests to the in-memory state."""

    state: HubState
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Quiet: requests are recorded in ``state.requests`` instead of stderr."""

    # -- plumbing ---------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any = None, headers: dict[str, str] | None = None,
              raw: bytes | None = None, head: bool = False) -> None:
        data = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not (head or self.command == "HEAD"):  # a HEAD answer carries headers only
            self.wfile.write(data)

    def _error(self, status: int, message: str, code: str = "") -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, {"error": message}, headers)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization") or ""
        self.state.authorizations.append(header)
        if header != f"Bearer {self.state.token}":
            self._error(401, "Invalid credentials in Authorization header")
            return False
        return True

    def _fails(self, kind: str) -> bool:
        with self.state.lock:
            if self.state.failures.get(kind):
                self.state.failures[kind] -= 1
                failing = True
            else:
                failing = False
        if failing:
            self._error(500, f"simulated outage on {kind}")
        return failing

    def _base(self) -> str:
        return f"http://{self.headers.get('Host')}"

    def _route(self, method: str) -> None:
        parsed = urlparse(self.path)
        path, query = unquote(parsed.path), parse_qs(parsed.query)
        self.state.requests.append(f"{method} {parsed.path}")
        routes = [
            ("POST", r"/api/repos/create", self.create_repo),
            ("POST", r"/api/validate-yaml", self.validate_yaml),
            ("GET", r"/api/agent-harnesses", self.agent_harnesses),
            ("GET", rf"/api/datasets/{REPO}(?:/revision/(?P<rev>[^/]+))?", self.repo_info),
            ("POST", rf"/api/datasets/{REPO}/branch/(?P<rev>[^/]+)", self.create_branch),
            ("POST", rf"/api/datasets/{REPO}/preupload/(?P<rev>[^/]+)", self.preupload),
            ("POST", rf"/datasets/{REPO}\.git/info/lfs/objects/batch", self.lfs_batch),
            ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", self.lfs_upload),
            ("POST", rf"/api/datasets/{REPO}/commit/(?P<rev>[^/]+)", self.commit),
            ("GET", rf"/api/datasets/{REPO}/tree/(?P<rev>[^/]+)(?:/(?P<sub>.*))?", self.tree),
            ("POST", rf"/api/datasets/{REPO}/paths-info/(?P<rev>[^/]+)", self.paths_info),
            ("GET", rf"/datasets/{REPO}/resolve/(?P<rev>[^/]+)/(?P<sub>.+)", self.resolve),
            ("HEAD", rf"/datasets/{REPO}/resolve/(?P<rev>[^/]+)/(?P<sub>.+)", self.resolve),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                handler(query=query, **{k: v for k, v in match.groupdict().items()})
                return
        self.state.unknown.append(f"{method} {self.path}")
        self._body()
        self._error(404, f"mock hub: no route for {method} {parsed.path}")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        """Dispatch a GET."""
        self._route("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        """Dispatch a HEAD."""
        self._route("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        """Dispatch a POST."""
        self._route("POST")

    def do_PUT(self) -> None:  # noqa: N802
        """Dispatch a PUT."""
        self._route("PUT")

    # -- lookup -------------------------------------------------------------------------------
    def _branch(self, repo: str, rev: str | None) -> tuple[str, dict[str, StoredFile]] | None:
        found = self.state.repos.get(repo)
        if found is None:
            self._error(404, f"Repository Not Found for url: {self.path}", "RepoNotFound")
            return None
        rev = unquote(rev or "main")
        if rev in found.branches:
            return found.branches[rev]
        if rev in found.commits:  # a commit sha: the branch whose head it is (enough for these tests)
            for head, files in found.branches.values():
                if head == rev:
                    return head, files
        self._error(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return None

    # -- endpoints ----------------------------------------------------------------------------
    def create_repo(self, query: dict[str, list[str]]) -> None:
        """``POST /api/repos/create``: 409 when it exists (the client's ``exist_ok`` handles that)."""
        body = json.loads(self._body() or b"{}")
        if not self._authorized():
            return
        repo = f"{body.get('organization')}/{body.get('name')}"
        url = f"{self._base()}/datasets/{repo}"
        with self.state.lock:
            if repo in self.state.repos:
                self._send(409, {"error": "You already created this dataset repo", "url": url})
                return
            empty = hashlib.sha1(repo.encode()).hexdigest()
            # huggingface_hub 2.x sends "visibility"; older clients send "private".
            private = body.get("visibility") == "private" or bool(body.get("private"))
            self.state.repos[repo] = Repo(private=private, branches={"main": (empty, {})},
                                          commits=[empty])
        self._send(200, {"url": url, "name": repo})

    def validate_yaml(self, query: dict[str, list[str]]) -> None:
        """``POST /api/validate-yaml``: accept any card."""
        self._body()
        self._send(200, {"errors": [], "warnings": []})

    def agent_harnesses(self, query: dict[str, list[str]]) -> None:
        """``GET /api/agent-harnesses`` (huggingface_hub's user-agent detection): an empty registry."""
        self._send(200, {"standardEnvVars": [], "harnesses": {}})

    def repo_info(self, query: dict[str, list[str]], repo: str, rev: str | None) -> None:
        """``GET /api/datasets/REPO[/revision/REV]``."""
        branch = self._branch(repo, rev)
        if branch is None:
            return
        head, files = branch
        self._send(200, {"id": repo, "author": repo.split("/")[0], "sha": head, "private":
                         self.state.repos[repo].private, "disabled": False, "gated": False, "downloads": 0,
                         "likes": 0, "tags": [], "lastModified": "2026-01-01T00:00:00.000Z",
                         "siblings": [{"rfilename": name} for name in sorted(files)], "cardData": {}})

    def create_branch(self, query: dict[str, list[str]], repo: str, rev: str) -> None:
        """``POST /api/datasets/REPO/branch/BRANCH`` from main."""
        self._body()
        if not self._authorized() or self._branch(repo, "main") is None:
            return
        found = self.state.repos[repo]
        if unquote(rev) in found.branches:
            self._error(409, "Reference already exists", "RefAlreadyExists")
            return
        head, files = found.branches["main"]
        found.branches[unquote(rev)] = (head, dict(files))
        self._send(200, {})

    def preupload(self, query: dict[str, list[str]], repo: str, rev: str) -> None:
        """``POST .../preupload/REV``: LFS for .parquet and large files; the oid of an existing file."""
        body = json.loads(self._body() or b"{}")
        if not self._authorized() or self._fails("preupload"):
            return
        branch = self._branch(repo, rev)
        if branch is None:
            return
        files = branch[1]
        answer = []
        for item in body.get("files", []):
            lfs = item["path"].endswith(".parquet") or int(item["size"]) > REGULAR_LIMIT_BYTES
            current = files.get(item["path"])
            oid = None if current is None else (current.sha256 if current.lfs else current.oid)
            answer.append({"path": item["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                           "oid": oid})
        self._send(200, {"files": answer, "commitOid": branch[0]})

    def lfs_batch(self, query: dict[str, list[str]], repo: str) -> None:
        """``POST REPO.git/info/lfs/objects/batch``: upload actions only for objects not stored yet."""
        body = json.loads(self._body() or b"{}")
        if not self._authorized():
            return
        objects = []
        for item in body.get("objects", []):
            entry: dict[str, Any] = {"oid": item["oid"], "size": item["size"]}
            if item["oid"] not in self.state.lfs:
                entry["actions"] = {"upload": {"href": f"{self._base()}/lfs-upload/{item['oid']}"}}
            objects.append(entry)
        self._send(200, {"transfer": "basic", "objects": objects})

    def lfs_upload(self, query: dict[str, list[str]], oid: str) -> None:
        """``PUT /lfs-upload/OID``: the object's bytes, checked against its sha256."""
        data = self._body()
        if self._fails("lfs-upload"):
            return
        if hashlib.sha256(data).hexdigest() != oid:
            self._error(400, "sha256 of the uploaded object does not match its oid")
            return
        with self.state.lock:
            self.state.lfs[oid] = data
            self.state.lfs_puts += 1
        self._send(200, {})

    def commit(self, query: dict[str, list[str]], repo: str, rev: str) -> None:
        """``POST .../commit/REV``: NDJSON header, file, lfsFile and deletedFile lines."""
        lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
        if not self._authorized() or self._fails("commit"):
            return
        branch = self._branch(repo, rev)
        if branch is None:
            return
        head, files = branch
        changed = dict(files)
        for line in lines:
            key, value = line.get("key"), line.get("value", {})
            if key == "file":
                changed[value["path"]] = StoredFile(base64.b64decode(value["content"]), lfs=False)
            elif key == "lfsFile":
                if value["oid"] not in self.state.lfs:
                    self._error(422, f"LFS object {value['oid']} of {value['path']} was never uploaded")
                    return
                changed[value["path"]] = StoredFile(self.state.lfs[value["oid"]], lfs=True)
            elif key == "deletedFile":
                if value["path"] not in changed:
                    self._error(404, "A file with this name doesn't exist", "EntryNotFound")
                    return
                del changed[value["path"]]
            elif key == "deletedFolder":
                changed = {p: f for p, f in changed.items() if not p.startswith(value["path"].rstrip("/") + "/")}
        digest = hashlib.sha1(head.encode() + json.dumps(
            {p: f.sha256 for p, f in sorted(changed.items())}).encode()).hexdigest()
        with self.state.lock:
            found = self.state.repos[repo]
            found.branches[unquote(rev)] = (digest, changed)
            found.commits.append(digest)
        self._send(200, {"commitUrl": f"{self._base()}/datasets/{repo}/commit/{digest}", "commitOid": digest,
                         "pullRequestUrl": None})

    def _entries(self, files: dict[str, StoredFile], prefix: str, recursive: bool) -> list[dict[str, Any]]:
        prefix = prefix.strip("/")
        start = f"{prefix}/" if prefix else ""
        entries: dict[str, dict[str, Any]] = {}
        for name, stored in sorted(files.items()):
            if not name.startswith(start):
                continue
            parts = name[len(start):].split("/")
            for depth in range(1, len(parts)):
                folder = start + "/".join(parts[:depth])
                if recursive or depth == 1:
                    entries.setdefault(folder, {"type": "directory", "oid": git_oid(folder.encode()), "size": 0,
                                                "path": folder})
            if recursive or len(parts) == 1:
                entries[name] = stored.entry(name)
        return list(entries.values())

    def tree(self, query: dict[str, list[str]], repo: str, rev: str, sub: str | None) -> None:
        """``GET .../tree/REV[/PATH]?recursive=``: files and folders under a path."""
        branch = self._branch(repo, rev)
        if branch is None:
            return
        recursive = (query.get("recursive") or ["false"])[0].lower() in ("1", "true")
        self._send(200, self._entries(branch[1], sub or "", recursive))

    def paths_info(self, query: dict[str, list[str]], repo: str, rev: str) -> None:
        """``POST .../paths-info/REV`` (form or JSON ``paths``): entries of the paths that exist."""
        raw = self._body()
        content_type = self.headers.get("Content-Type") or ""
        if "json" in content_type:
            paths = json.loads(raw or b"{}").get("paths", [])
        else:
            paths = parse_qs(raw.decode()).get("paths", [])
        branch = self._branch(repo, rev)
        if branch is None:
            return
        files = branch[1]
        answer = []
        for path in paths:
            path = path.strip("/")
            if path in files:
                answer.append(files[path].entry(path))
            elif any(name.startswith(path + "/") for name in files) or path == "":
                answer.append({"type": "directory", "oid": git_oid(path.encode()), "size": 0, "path": path})
        self._send(200, answer)

    def resolve(self, query: dict[str, list[str]], repo: str, rev: str, sub: str) -> None:
        """``GET|HEAD /datasets/REPO/resolve/REV/PATH`` with the Hub's headers and Range support."""
        head_only = self.command == "HEAD"
        branch = self._branch(repo, rev)
        if branch is None:
            return
        head, files = branch
        stored = files.get(sub)
        if stored is None:
            self._error(404, f"Entry not found: {sub}", "EntryNotFound")
            return
        content = stored.content
        headers = {"X-Repo-Commit": head, "ETag": f'"{stored.sha256 if stored.lfs else stored.oid}"',
                   "Accept-Ranges": "bytes"}
        if stored.lfs:
            headers.update({"X-Linked-Etag": f'"{stored.sha256}"', "X-Linked-Size": str(len(content))})
        status = 200
        ranged = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range") or "")
        if ranged and content:
            first_text, last_text = ranged.groups()
            if first_text:
                first, last = int(first_text), int(last_text) if last_text else len(content) - 1
            else:
                first, last = max(0, len(content) - int(last_text)), len(content) - 1
            last = min(last, len(content) - 1)
            headers["Content-Range"] = f"bytes {first}-{last}/{len(content)}"
            content, status = content[first:last + 1], 206
        self._send(status, raw=content, headers=headers, head=head_only)


class HubServer:
    """The server on a random port of 127.0.0.1, served from a daemon thread."""

    def __init__(self, token: str) -> None:
        self.state = HubState()
        self.state.token = token
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def files(self, repo: str, branch: str = "main") -> dict[str, StoredFile]:
        """The files of a repo's branch."""
        return self.state.repos[repo].branches[branch][1]
