"""Container filesystems through the real stack with the docker CLI and SDK: `docker cp` both
ways (running and stopped containers, directories, stdout), the archive API, `docker diff`,
`docker export`, `docker commit` and running the committed image."""

import io
import os
import tarfile
import time

import docker
import pytest

from dockyard_common.testing.dockercli import import_rootfs
from dockyard_common.testing.rootfs import make_rootfs

IMAGE = "fsops/busybox:latest"


@pytest.fixture(scope="module")
def image(dcli, tmp_path_factory):
    root = make_rootfs(str(tmp_path_factory.mktemp("rootfs")), dirs=("tmp", "var"))
    return import_rootfs(dcli, root, IMAGE, changes=('CMD ["sh"]', "ENV PATH=/bin"))


@pytest.fixture(scope="module")
def sdk(stack):
    client = docker.DockerClient(base_url=stack.docker_host, version="auto")
    yield client
    client.close()


def tar_members(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name.rstrip("/"): (tar.extractfile(m).read() if m.isfile() else None)
                for m in tar.getmembers()}


def wait_copy_out(dcli, ref, path, dst, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        r = dcli("cp", "%s:%s" % (ref, path), dst, check=False)
        if r.returncode == 0:
            return
        assert time.monotonic() < deadline, r.stderr
        time.sleep(0.1)


def test_cp_into_and_out_of_a_running_container(dcli, image, tmp_path):
    # The container upper-cases /tmp/in.txt once it appears: it sees what `docker cp` wrote.
    script = "while [ ! -f /tmp/in.txt ]; do sleep 0.05; done; tr a-z A-Z < /tmp/in.txt > /tmp/out.txt; sleep 300"
    dcli("run", "-d", "--name", "cp-run", image, "sh", "-c", script)
    (tmp_path / "in.txt").write_text("copied-in\n")
    dcli("cp", tmp_path / "in.txt", "cp-run:/tmp/in.txt")
    wait_copy_out(dcli, "cp-run", "/tmp/out.txt", tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_text() == "COPIED-IN\n"
    # directories: into an existing dir (nested) and onto a new path (renamed)
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "a.txt").write_text("A\n")
    (tmp_path / "tree" / "sub" / "b.txt").write_text("B\n")
    dcli("cp", tmp_path / "tree", "cp-run:/tmp/")
    dcli("cp", tmp_path / "tree", "cp-run:/newdir")
    dcli("cp", "cp-run:/tmp/tree", tmp_path / "back1")
    dcli("cp", "cp-run:/newdir", tmp_path / "back2")
    for back in ("back1", "back2"):
        assert (tmp_path / back / "a.txt").read_text() == "A\n"
        assert (tmp_path / back / "sub" / "b.txt").read_text() == "B\n"
    r = dcli("cp", "cp-run:/does/not/exist", tmp_path / "x", check=False)
    assert r.returncode != 0
    assert b"Could not find the file /does/not/exist in container cp-run" in r.stderr
    dcli("rm", "-f", "cp-run")


def test_cp_from_a_stopped_container_diff_export(dcli, image, sdk, tmp_path, stack):
    dcli("run", "--name", "cp-stopped", image, "sh", "-c",
         "echo kept > /result; rm /etc/group; echo extra >> /etc/passwd; mkdir -p /var/x; touch /var/x/y")
    dcli("cp", "cp-stopped:/result", tmp_path / "result")
    assert (tmp_path / "result").read_text() == "kept\n"
    out = dcli("cp", "cp-stopped:/result", "-").stdout
    assert tar_members(out) == {"result": b"kept\n"}
    # copy into the stopped container, then read it back
    (tmp_path / "later.txt").write_text("later\n")
    dcli("cp", tmp_path / "later.txt", "cp-stopped:/tmp/")
    assert tar_members(dcli("cp", "cp-stopped:/tmp/later.txt", "-").stdout) == {"later.txt": b"later\n"}
    lines = set(dcli("diff", "cp-stopped").stdout.decode().splitlines())
    for expected in ("A /result", "D /etc/group", "C /etc/passwd", "C /etc", "A /var/x",
                     "A /var/x/y", "A /tmp/later.txt"):
        assert expected in lines, (expected, lines)
    assert "A /proc" not in lines and "A /etc/hosts" not in lines
    members = tar_members(dcli("export", "cp-stopped").stdout)
    assert members["result"] == b"kept\n" and "bin/busybox" in members
    assert "etc/group" not in members
    kinds = {d["Path"]: d["Kind"] for d in sdk.containers.get("cp-stopped").diff()}
    assert kinds["/result"] == 1 and kinds["/etc/group"] == 2 and kinds["/etc/passwd"] == 0
    # no private snapshot mount left behind
    with open("/proc/self/mountinfo") as f:
        assert not [l for l in f if os.path.join(stack.root, "d", "image", "mnt") in l]
    dcli("rm", "cp-stopped")


def test_archive_api_with_sdk(dcli, image, sdk):
    c = sdk.containers.run(image, ["sleep", "300"], detach=True, name="cp-sdk")
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tar:
        info = tarfile.TarInfo("sdk")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        info = tarfile.TarInfo("sdk/file.txt")
        info.size = 16
        tar.addfile(info, io.BytesIO(b"via put_archive\n"))
    assert c.put_archive("/tmp", payload.getvalue()) is True
    stream, stat = c.get_archive("/tmp/sdk/file.txt")
    assert stat["name"] == "file.txt" and stat["size"] == 16
    assert tar_members(b"".join(stream)) == {"file.txt": b"via put_archive\n"}
    with pytest.raises(docker.errors.NotFound):
        c.get_archive("/nope")
    with pytest.raises(docker.errors.APIError) as exc:
        c.put_archive("/tmp/sdk/file.txt", payload.getvalue())
    assert exc.value.status_code == 400
    assert tar_members(b"".join(c.export()))["tmp/sdk/file.txt"] == b"via put_archive\n"
    c.remove(force=True)


def test_commit_then_run(dcli, image, sdk):
    dcli("run", "--name", "cm-src", image, "sh", "-c", "echo committed-state > /state")
    image_id = dcli("commit", "-a", "Me <me@example.invalid>", "-m", "snap", "-c", 'CMD ["cat", "/state"]',
                    "-c", "ENV COMMITTED=yes", "cm-src", "fsops/committed:1").stdout.decode().strip()
    assert image_id.startswith("sha256:")
    assert dcli("run", "--rm", "fsops/committed:1").stdout == b"committed-state\n"
    assert dcli("run", "--rm", "fsops/committed:1", "sh", "-c", "echo $COMMITTED").stdout == b"yes\n"
    # a running container, through the SDK
    c = sdk.containers.run(image, ["sh", "-c", "echo live > /live; sleep 300"], detach=True, name="cm-live")
    deadline = time.monotonic() + 10
    while dcli("cp", "cm-live:/live", "-", check=False).returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    img = c.commit(repository="fsops/live", tag="snap", conf={"Cmd": ["cat", "/live"]})
    c.reload()
    assert c.status == "running"
    assert sdk.containers.run("fsops/live:snap", remove=True) == b"live\n"
    c.remove(force=True)
    dcli("rm", "cm-src")
    dcli("rmi", "fsops/committed:1", img.id)
