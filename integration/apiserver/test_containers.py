"""Containers through the real stack (all six services, runc, conmon): the docker CLI, the
Docker SDK and raw hijacked sockets (framing, half-close, parked attach before start)."""

import json
import socket
import time

import docker
import pytest

from dockyard_common import stdcopy

import stackutil
from stackutil import cli

IMAGE = "dy-it/busybox:latest"

pytestmark = stackutil.NEEDS_REAL_STACK
STACK_IMAGE = stackutil.BusyboxImage(IMAGE, ("sh", "echo", "cat", "sleep", "tr", "true", "id", "env"),
                                     text=False)   # conftest's `st`


def raw(stack, method, path, body=None, upgrade=False):
    s = socket.socket(socket.AF_UNIX)
    s.connect(stack.layout.docker_socket)
    data = json.dumps(body).encode() if body is not None else b""
    head = "%s %s HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (
        method, path, len(data))
    if upgrade:
        head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
    s.sendall(head.encode() + b"\r\n" + data)
    return s


def read_all(sock, timeout=20):
    sock.settimeout(timeout)
    out = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return out
        out += chunk


def test_cli_run_rm_echo(st):
    r = cli(st, "run", "--rm", "--name", "it-rm", IMAGE, "echo", "hello")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello\n"
    assert cli(st, "inspect", "it-rm").returncode != 0  # auto-removed


def test_cli_exit_code_stdin_and_logs(st):
    r = cli(st, "run", "--rm", "-i", IMAGE, "sh", "-c", "tr a-z A-Z; exit 5", input=b"abc\n")
    assert r.returncode == 5 and r.stdout == b"ABC\n"
    r = cli(st, "run", "--name", "it-logs", IMAGE, "sh", "-c", "echo out; echo err >&2")
    assert r.returncode == 0
    logs = cli(st, "logs", "it-logs")
    assert logs.stdout == b"out\n" and logs.stderr == b"err\n"
    r = cli(st, "run", "--rm", IMAGE, "/no/such/binary")
    assert r.returncode == 127 and b"no such file or directory" in r.stderr
    cli(st, "rm", "-f", "it-logs")


def test_raw_attach_before_start_frames_and_half_close(st):
    resp = read_all(raw(st, "POST", "/v1.45/containers/create", {
        "Image": IMAGE, "Cmd": ["sh", "-c", "cat; echo done >&2"], "OpenStdin": True, "StdinOnce": True}))
    cid = json.loads(resp.split(b"\r\n\r\n", 1)[1])["Id"]
    att = raw(st, "POST", "/v1.45/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1" % cid,
              upgrade=True)
    head = b""
    while b"\r\n\r\n" not in head:
        head += att.recv(1)
    assert head.startswith(b"HTTP/1.1 101") and b"multiplexed-stream" in head
    w = raw(st, "POST", "/v1.45/containers/%s/wait?condition=next-exit" % cid)
    st.client.api.start(cid)
    att.sendall(b"piped\n")
    att.shutdown(socket.SHUT_WR)             # stdin EOF; output must keep flowing
    frames, rest = stdcopy.parse(read_all(att))
    assert rest == b""
    assert frames == [(1, b"piped\n"), (2, b"done\n")]
    body = read_all(w)
    assert b'"StatusCode": 0' in body
    st.client.api.remove_container(cid, force=True)


def test_sdk_lifecycle(st):
    client = st.client
    c = client.containers.run(IMAGE, ["sleep", "30"], detach=True, name="it-life", labels={"k": "v"})
    c.reload()
    assert c.status == "running"
    assert [x.name for x in client.containers.list(filters={"label": "k=v"})] == ["it-life"]
    t0 = time.monotonic()
    c.stop(timeout=1)              # sleep ignores SIGTERM as PID 1: SIGKILL after 1s
    assert time.monotonic() - t0 < 10
    c.reload()
    assert c.status == "exited" and c.attrs["State"]["ExitCode"] == 137
    with pytest.raises(docker.errors.APIError) as ei:
        client.containers.get("it-life").kill()
    assert ei.value.status_code == 409
    c.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("it-life")
