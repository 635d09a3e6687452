"""The classic builder (POST /build) in a real stack: RUN through the container backend with
streamed output, COPY/ADD through Snapshots.ArchivePut, the cache, multi-stage, failures,
cancellation, and nothing left behind (containers, volumes, active snapshots, temp dirs)."""

import io
import os
import socket
import tarfile
import time

import docker
import pytest

from dockyard_api.snapshots.v1 import snapshots_pb2_grpc
from dockyard_api.types.v1 import types_pb2
from dockyard_common import grpcutil
from dockyard_common.testing.dockercli import import_rootfs
from dockyard_common.testing.rootfs import make_rootfs
from dockyard_common.testing.stack import TestStack

BASE = "buildbase:latest"
APPLETS = ("sh", "cat", "echo", "ls", "id", "sleep", "mkdir", "true", "false", "stat", "env")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("integration tests run as root")
    tmp = tmp_path_factory.mktemp("buildtmp")
    with TestStack(extra_env={"DOCKYARD_BUILD_TMPDIR": str(tmp)}) as s:
        s.build_tmp = str(tmp)
        yield s


@pytest.fixture(scope="module", autouse=True)
def base_image(dcli, tmp_path_factory):
    root = make_rootfs(str(tmp_path_factory.mktemp("rootfs")), commands=APPLETS,
                       passwd="root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n",
                       group="root:x:0:\napp:x:1000:\n")
    return import_rootfs(dcli, root, BASE)


def write(ctx, files):
    for name, data in files.items():
        path = os.path.join(ctx, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(data)
    return ctx


def leftovers(stack, dcli):
    snaps = grpcutil.Client(snapshots_pb2_grpc.SnapshotsStub, stack.layout.grpc_target("image"))
    active = [x.key for x in snaps.List(types_pb2.Empty()).snapshots if x.kind == "active"]
    return {"containers": dcli("ps", "-aq").out.split(), "volumes": dcli("volume", "ls", "-q").out.split(),
            "snapshots": active, "tmp": os.listdir(stack.build_tmp)}


NOTHING = {"containers": [], "volumes": [], "snapshots": [], "tmp": []}


def test_cli_build_run_copy_cache_and_history(stack, dcli, tmp_path):
    ctx = write(str(tmp_path / "ctx"), {
        "Dockerfile": "FROM %s\nARG WHO=me\nENV GREETING=hello\nWORKDIR /app\nCOPY --chown=1000:1000 src/ ./src/\n"
                      "VOLUME /data\nRUN echo \"$GREETING $WHO\" && ls src > /app/list && id -u\n"
                      "USER app\nRUN id -un > /tmp/who\nCMD [\"cat\", \"/app/list\", \"/tmp/who\"]\n" % BASE,
        "src/a.txt": "a\n", "src/b/c.txt": "c\n", "skip.md": "x", ".dockerignore": "*.md\n"})
    r = dcli("build", "--build-arg", "WHO=bob", "-t", "built:one", ctx)
    assert "hello bob\n0\n" in r.out
    assert "Successfully tagged built:one" in r.out
    assert dcli("run", "--rm", "built:one").out == "a.txt\nb\napp\n"
    assert dcli("run", "--rm", "built:one", "stat", "-c", "%u:%g", "/app/src/b/c.txt").out == "1000:1000\n"
    history = dcli("history", "--no-trunc", "--format", "{{.CreatedBy}}", "built:one").out
    assert '|1 WHO=bob /bin/sh -c echo "$GREETING $WHO"' in history
    assert "/bin/sh -c #(nop)  ENV GREETING=hello" in history
    again = dcli("build", "--build-arg", "WHO=bob", "-t", "built:one", ctx)
    assert again.out.count("Using cache") == 9
    assert leftovers(stack, dcli) == NOTHING


def test_config_steps_commit_from_created_containers(stack, dcli, tmp_path):
    """As dockerd's classic builder: each config-only step creates (never starts) a container,
    commits it (its id in the image's Container) and removes it with the default --rm."""
    ctx = write(str(tmp_path / "nop"), {
        "Dockerfile": "FROM %s\nENV A=1\nLABEL k=v\nWORKDIR /made\nCMD [\"true\"]\n" % BASE})
    since = str(int(time.time()))
    out = dcli("build", "--no-cache", "-t", "built:nop", ctx).out
    lines = out.splitlines()
    running = [ln.split()[-1] for ln in lines if ln.startswith(" ---> Running in ")]
    assert len(running) == 4
    for short in running:
        i = lines.index(" ---> Running in " + short)
        assert lines[i + 1] == "Removing intermediate container " + short
    fmt = "{{.Container}} {{json .ContainerConfig.Cmd}} {{.ContainerConfig.Hostname}}"
    container, rest = dcli("image", "inspect", "-f", fmt, "built:nop").out.strip().split(" ", 1)
    cmd, hostname = rest.rsplit(" ", 1)
    assert container[:12] == running[-1] and hostname == running[-1]
    assert cmd == '["/bin/sh","-c","#(nop) ","CMD [\\"true\\"]"]'
    events = dcli("events", "--since", since, "--until", str(int(time.time()) + 1), "--filter",
                  "type=container", "--format", "{{.Action}} {{.Actor.ID}}").out.splitlines()
    ours = [(a, c[:12]) for a, c in (e.split() for e in events) if c[:12] in running]  # since: whole seconds
    assert ours == [(a, c) for c in running for a in ("create", "destroy")]
    assert leftovers(stack, dcli) == NOTHING
    again = dcli("build", "-t", "built:nop", ctx).out
    assert again.count("Using cache") == 4 and "Running in" not in again
    dcli("build", "--no-cache", "--rm=false", ctx)
    kept = dcli("ps", "-a", "--format", "{{.Status}} {{.Command}}").out.splitlines()
    assert len(kept) == 4 and all(k.startswith("Created \"/bin/sh -c '#(nop)") for k in kept)
    dcli("rm", *dcli("ps", "-aq").out.split())
    assert leftovers(stack, dcli) == NOTHING


def test_failed_run_exit_code_force_rm_and_parse_error(stack, dcli, tmp_path):
    ctx = write(str(tmp_path / "fail"), {"Dockerfile": "FROM %s\nRUN echo out && exit 5\n" % BASE})
    r = dcli("build", "--force-rm", ctx, check=False)
    assert r.returncode == 5 and "out\n" in r.out
    assert "The command '/bin/sh -c echo out && exit 5' returned a non-zero code: 5" in r.err
    assert leftovers(stack, dcli) == NOTHING
    write(ctx, {"Dockerfile": "FROM %s\nBOGUS x\n" % BASE})
    r = dcli("build", ctx, check=False)
    assert r.returncode != 0 and "dockerfile parse error line 2: unknown instruction: BOGUS" in r.err


def test_sdk_multi_stage_labels_and_stdin_tar(stack, dcli, tmp_path):
    client = docker.DockerClient(base_url=stack.docker_host, version="auto", timeout=120)
    try:
        df = ("FROM %s AS builder\nRUN mkdir /out && echo artifact > /out/f\n"
              "FROM %s\nCOPY --from=builder /out/ /copied/\nCMD [\"cat\", \"/copied/f\"]\n" % (BASE, BASE))
        image, logs = client.images.build(fileobj=io.BytesIO(df.encode()), tag="built:ms",
                                          labels={"who": "sdk"}, rm=True)
        assert image.labels == {"who": "sdk"}
        assert any("Successfully built" in (e.get("stream") or "") for e in logs)
        assert client.containers.run("built:ms", remove=True) == b"artifact\n"
    finally:
        client.close()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = b"FROM %s\nCOPY hello /hello\n" % BASE.encode()
        for name, content in (("Dockerfile", data), ("hello", b"hi\n")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    dcli("build", "-t", "built:stdin", "-", input=buf.getvalue())
    assert dcli("run", "--rm", "built:stdin", "cat", "/hello").out == "hi\n"
    assert leftovers(stack, dcli) == NOTHING


def test_client_disconnect_cancels_the_running_step(stack, dcli):
    ctx_tar = io.BytesIO()
    with tarfile.open(fileobj=ctx_tar, mode="w") as tf:
        data = b"FROM %s\nRUN echo started && sleep 60\n" % BASE.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    body = ctx_tar.getvalue()
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(stack.layout.docker_socket)
    sock.sendall(b"POST /v1.41/build?nocache=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    seen, deadline = b"", time.monotonic() + 30
    while b'"started\\n"' not in seen and time.monotonic() < deadline:
        seen += sock.recv(65536)
    assert b"Running in" in seen and b'"started\\n"' in seen
    sock.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and leftovers(stack, dcli) != NOTHING:
        time.sleep(0.5)
    assert leftovers(stack, dcli) == NOTHING
