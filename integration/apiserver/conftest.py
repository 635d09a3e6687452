"""apiserver integration tests.

`fake_server`: the real HTTP server (httpserver.py) and Flask app on a unix socket, backed by
in-memory fakes of the gRPC services (services/apiserver/tests/fakes.py), plus two test-only
routes that exercise hijacking. `stack`: every dockyard service as real processes (TestStack),
one stack per test module, and `dcli`, the docker CLI bound to it.
"""

import os
import shutil
import sys
import tempfile
import threading
import types

import pytest
from flask import request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "services", "apiserver", "tests"))

from dockyard_apiserver import hijack, httpserver  # noqa: E402
from dockyard_apiserver.app import create_app  # noqa: E402
from dockyard_common import errors  # noqa: E402
from dockyard_common.testing.dockercli import DockerCLI  # noqa: E402
from dockyard_common.testing.stack import TestStack  # noqa: E402

import stackutil  # noqa: E402

DOCKER_CLIS = [p for p in ("/usr/bin/docker", "/usr/local/bin/docker") if os.path.exists(p)]


def _hijack_echo():
    """Upper-cases what the client sends; on the client's half-close says EOF-SEEN and closes."""
    if request.args.get("fail"):
        raise errors.NotFound("No such container: %s" % request.args["fail"])
    conn = hijack.take_over(request.environ)
    conn.send_upgrade("application/vnd.docker.raw-stream", hijack.wants_upgrade(request.environ))

    def pump():
        try:
            while True:
                data = conn.rfile.read1(65536)
                if not data:
                    break
                conn.sendall(data.upper())
            conn.sendall(b"EOF-SEEN\n")
            conn.shutdown_write()
        except OSError:
            pass
        finally:
            conn.close()

    if request.args.get("inline"):
        pump()          # the view's own thread runs the stream, then returns
    else:
        threading.Thread(target=pump, daemon=True).start()
    return hijack.HIJACKED


@pytest.fixture(scope="module")
def fake_server():
    from fakes import FakeDaemon
    root = tempfile.mkdtemp(prefix="dy-api-", dir="/tmp")
    daemon = FakeDaemon(root)
    app = create_app(daemon)
    app.add_url_rule("/test/hijack", "test_hijack", _hijack_echo, methods=["POST"])
    path = os.path.join(root, "docker.sock")
    srv = httpserver.serve_unix(app, path)
    running = httpserver.Servers([srv])
    running.start()
    try:
        yield types.SimpleNamespace(path=path, daemon=daemon, app=app, host="unix://" + path, root=root)
    finally:
        running.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def cli_runner(tmp_path):
    def make(host, binary):
        return DockerCLI(host, tmp_path / "cfg", binary=binary, DOCKER_BUILDKIT="0")
    return make


@pytest.fixture(scope="module")
def stack():
    if os.geteuid() != 0:
        pytest.fail("integration tests run as root")
    with TestStack() as s:
        yield s


@pytest.fixture(scope="module")
def st(request, tmp_path_factory):
    """A stack with stackutil's image (the networking and volumes tests), or with the module's
    own when it sets STACK_IMAGE = stackutil.BusyboxImage(...)."""
    image = getattr(request.module, "STACK_IMAGE", None)
    stack = image.start(tmp_path_factory) if image else stackutil.start(tmp_path_factory)
    yield stack
    stackutil.stop(stack)


@pytest.fixture(scope="module")
def dcli(stack, tmp_path_factory):
    """run(*args, input=None, timeout=120, check=True, binary="docker")."""
    return DockerCLI.for_stack(stack, tmp_path_factory.mktemp("docker-config"), check=True,
                               timeout=120, DOCKER_BUILDKIT="0")
