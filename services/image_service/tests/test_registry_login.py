"""docker login against a small registry stand-in: Basic auth, a Bearer token challenge, none."""

import base64
import http.server
import json

import pytest

from dockyard_common import errors
from dockyard_images.login import login, registry_domain
from dockyard_images.registry import RegistrySettings
from fake_registry import LocalServer

USER, PASSWORD = "alice", "s3cret"
GOOD_BASIC = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()


class AuthRegistry(LocalServer):
    """GET /v2/ behind Basic or Bearer auth (mode), with a /token realm checking Basic creds."""

    def __init__(self, mode):
        self.mode = mode
        self.requests = []
        reg = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, body=b"{}", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                auth = self.headers.get("Authorization", "")
                reg.requests.append((self.path, auth))
                if self.path.startswith("/token"):
                    if auth != GOOD_BASIC:
                        return self._send(401, b'{"details":"incorrect username or password"}')
                    return self._send(200, json.dumps({"token": "tok-ok"}).encode())
                if reg.mode == "none":
                    return self._send(200)
                if reg.mode == "basic" and auth == GOOD_BASIC:
                    return self._send(200)
                if reg.mode == "bearer" and auth == "Bearer tok-ok":
                    return self._send(200)
                challenge = ('Basic realm="registry"' if reg.mode == "basic" else
                             'Bearer realm="http://%s/token",service="test"' % reg.host)
                self._send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                           {"WWW-Authenticate": challenge, "Content-Type": "application/json"})

        super().__init__(Handler)


def _auth(host, user=USER, password=PASSWORD):
    return json.dumps({"username": user, "password": password, "serveraddress": host})


@pytest.mark.parametrize("mode", ["basic", "bearer", "none"])
def test_login_succeeds(mode):
    with AuthRegistry(mode) as reg:
        assert login(RegistrySettings(), _auth(reg.host)) == ("Login Succeeded", "")
        if mode == "bearer":
            assert any(p.startswith("/token") and a == GOOD_BASIC for p, a in reg.requests)


def test_login_basic_wrong_password_has_dockers_message():
    with AuthRegistry("basic") as reg:
        with pytest.raises(errors.FailedPrecondition) as ei:
            login(RegistrySettings(), _auth(reg.host, password="nope"))
        assert str(ei.value) == ("login attempt to http://%s/v2/ failed with status: "
                                 "401 Unauthorized" % reg.host)


def test_login_token_wrong_password_has_dockers_message():
    with AuthRegistry("bearer") as reg:
        with pytest.raises(errors.FailedPrecondition) as ei:
            login(RegistrySettings(), _auth(reg.host, password="nope"))
        assert str(ei.value) == ('Get "http://%s/v2/": unauthorized: incorrect username or password'
                                 % reg.host)


def test_login_unreachable_registry_is_unavailable():
    with AuthRegistry("none") as reg:
        host = reg.host
    with pytest.raises(errors.Unavailable) as ei:
        login(RegistrySettings(), _auth(host))
    assert "connection refused" in str(ei.value)


def test_registry_domain():
    assert registry_domain("") == "docker.io"
    assert registry_domain("https://index.docker.io/v1/") == "docker.io"
    assert registry_domain("127.0.0.1:5000") == "127.0.0.1:5000"
    assert registry_domain("http://127.0.0.1:5000/v2/") == "127.0.0.1:5000"
    assert registry_domain("registry.example.com") == "registry.example.com"
