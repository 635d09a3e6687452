"""A small in-process Docker Registry v2 (http.server on 127.0.0.1) for the registry unit tests.

Keeps blobs and manifests in memory, logs every request, and can require bearer-token auth
(a /token endpoint on the same server) or serve corrupted blobs.
"""

import hashlib
import http.server
import json
import re
import threading
import urllib.parse
import uuid


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class LocalServer:
    """An http.server on 127.0.0.1 (a free port) with `handler`, served by a thread inside `with`."""

    def __init__(self, handler):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def host(self):
        return "127.0.0.1:%d" % self.server.server_address[1]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class FakeRegistry(LocalServer):
    def __init__(self, token_auth=False, basic_user=None):
        self.blobs = {}        # digest -> bytes (registry-wide, as distribution's storage)
        self.repo_blobs = {}   # repo -> set of digests linked into it
        self.manifests = {}    # (repo, tag or digest) -> (body, media type)
        self.uploads = {}      # uuid -> bytearray
        self.corrupt = {}      # digest -> bytes served instead
        self.log = []          # (method, path)
        self.token_requests = []
        self.tags_page = 0     # > 0: tags/list answers pages of that many, with a Link header
        self.token_auth = token_auth
        self.basic_user = basic_user
        super().__init__(_handler(self))

    # -- content helpers ----------------------------------------------------------------------------
    def add_blob(self, repo, data):
        digest = sha(data)
        self.blobs[digest] = data
        self.repo_blobs.setdefault(repo, set()).add(digest)
        return digest

    def add_manifest(self, repo, tag, body, media):
        digest = sha(body)
        self.manifests[(repo, digest)] = (body, media)
        if tag:
            self.manifests[(repo, tag)] = (body, media)
        return digest

    def count(self, method, pattern):
        return sum(1 for m, p in self.log if m == method and re.search(pattern, p))


def _handler(reg):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, status, body=b"", headers=None, head=False):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and not head and self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status, code, message):
            body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
            self._send(status, body, {"Content-Type": "application/json"})

        def _body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _authorized(self):
            if reg.token_auth:
                if self.headers.get("Authorization", "").startswith("Bearer tok-"):
                    return True
                self._send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                           {"WWW-Authenticate": 'Bearer realm="http://%s/token",service="fake"' % reg.host,
                            "Content-Type": "application/json"})
                return False
            return True

        def _route(self, method):
            parts = urllib.parse.urlsplit(self.path)
            path, query = parts.path, urllib.parse.parse_qs(parts.query)
            reg.log.append((method, self.path))
            body = self._body() if method in ("PUT", "PATCH", "POST") else b""
            if path == "/token":
                reg.token_requests.append({"query": query, "auth": self.headers.get("Authorization", "")})
                scopes = " ".join(query.get("scope", []))
                return self._send(200, json.dumps({"token": "tok-" + uuid.uuid4().hex,
                                                   "scope": scopes}).encode())
            if not self._authorized():
                return
            if path == "/v2/":
                return self._send(200, b"{}")
            m = re.match(r"^/v2/(.+)/tags/list$", path)
            if m:
                return self._tags(m.group(1), query)
            m = re.match(r"^/v2/(.+)/(manifests|blobs)/(.+)$", path)
            if m:
                repo, kind, ref = m.groups()
                if kind == "manifests":
                    return self._manifest(method, repo, ref, body)
                if ref == "uploads/":
                    return self._start_upload(repo, query)
                up = re.match(r"^uploads/([0-9a-f-]+)$", ref)
                if up:
                    return self._upload(method, repo, up.group(1), query, body)
                return self._blob(method, repo, ref)
            return self._error(404, "UNSUPPORTED", "not found")

        def _manifest(self, method, repo, ref, body):
            if method == "PUT":
                media = self.headers.get("Content-Type", "")
                doc = json.loads(body)
                missing = [d["digest"] for d in [doc["config"]] + doc["layers"]
                           if d["digest"] not in reg.repo_blobs.get(repo, set())]
                if missing:
                    return self._error(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry")
                digest = reg.add_manifest(repo, "" if ref.startswith("sha256:") else ref, body, media)
                return self._send(201, b"", {"Docker-Content-Digest": digest})
            if not any(r == repo for r, _ in reg.manifests):
                return self._error(404, "NAME_UNKNOWN", "repository name not known to registry")
            found = reg.manifests.get((repo, ref))
            if not found:
                return self._error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            data, media = found
            self._send(200, data, {"Content-Type": media, "Docker-Content-Digest": sha(data)},
                       head=method == "HEAD")

        def _tags(self, repo, query):
            """Tags in the order they were added; pages of n (or tags_page) after `last`, with
            a relative Link to the next page, as distribution does."""
            tags = [t for r, t in reg.manifests if r == repo and not t.startswith("sha256:")]
            if not any(r == repo for r, _ in reg.manifests):
                return self._error(404, "NAME_UNKNOWN", "repository name not known to registry")
            last = query.get("last", [""])[0]
            if last in tags:
                tags = tags[tags.index(last) + 1:]
            n = int(query.get("n", [0])[0]) or reg.tags_page
            headers = {"Content-Type": "application/json"}
            if n and len(tags) > n:
                tags = tags[:n]
                headers["Link"] = '</v2/%s/tags/list?n=%d&last=%s>; rel="next"' % (repo, n, tags[-1])
            self._send(200, json.dumps({"name": repo, "tags": tags}).encode(), headers)

        def _blob(self, method, repo, digest):
            if digest not in reg.repo_blobs.get(repo, set()):
                return self._error(404, "BLOB_UNKNOWN", "blob unknown to registry")
            data = reg.corrupt.get(digest, reg.blobs[digest])
            self._send(200, data, {"Docker-Content-Digest": digest}, head=method == "HEAD")

        def _start_upload(self, repo, query):
            mount, source = query.get("mount", [""])[0], query.get("from", [""])[0]
            if mount and mount in reg.repo_blobs.get(source, set()):
                reg.repo_blobs.setdefault(repo, set()).add(mount)
                return self._send(201, b"", {"Location": "/v2/%s/blobs/%s" % (repo, mount)})
            uid = str(uuid.uuid4())
            reg.uploads[uid] = bytearray()
            self._send(202, b"", {"Location": "/v2/%s/blobs/uploads/%s?_state=x" % (repo, uid)})

        def _upload(self, method, repo, uid, query, body):
            if uid not in reg.uploads:
                return self._error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown")
            reg.uploads[uid] += body
            if method == "PATCH":
                return self._send(202, b"", {"Location": "/v2/%s/blobs/uploads/%s?_state=y" % (repo, uid)})
            digest = query["digest"][0]
            data = bytes(reg.uploads.pop(uid))
            if sha(data) != digest:
                return self._error(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
            reg.add_blob(repo, data)
            self._send(201, b"", {"Docker-Content-Digest": digest})

        def do_GET(self):
            self._route("GET")

        def do_HEAD(self):
            self._route("HEAD")

        def do_POST(self):
            self._route("POST")

        def do_PUT(self):
            self._route("PUT")

        def do_PATCH(self):
            self._route("PATCH")

    return Handler
