"""Container filesystems through the real stack with the docker CLI and SDK: `docker cp` both
ways (running and stopped containers, directories, stdout), the archive API, `docker diff`,
`docker export`, `docker commit` and running the committed image; `docker cp` into and out of
volumes, bind mounts and tmpfs mounts of running and stopped containers, the read-only refusals
and `docker cp -a`."""

import io
import os
import tarfile
import time

import docker
import pytest

from dockyard_common.testing.dockercli import import_rootfs
from dockyard_common.testing.rootfs import CONTAINER_GROUP, CONTAINER_PASSWD, make_rootfs

IMAGE = "fsops/busybox:latest"


@pytest.fixture(scope="module")
def image(dcli, tmp_path_factory):
    root = make_rootfs(str(tmp_path_factory.mktemp("rootfs")), dirs=("tmp", "var"),
                       passwd=CONTAINER_PASSWD, group=CONTAINER_GROUP)
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
    # (it waits for the content, not the file: the copy creates the file before writing it)
    script = ("until grep -q copied /tmp/in.txt 2>/dev/null; do sleep 0.05; done; "
              "tr a-z A-Z < /tmp/in.txt > /tmp/o; mv /tmp/o /tmp/out.txt; sleep 300")
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
    assert exc.value.status_code == 400          # "extraction point is not a directory" (dockerd: 500)
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


# -- the container's mounts: volumes, binds, tmpfs --------------------------------------------

def no_snapshot_mounts(stack):
    with open("/proc/self/mountinfo") as f:
        return not [l for l in f if os.path.join(stack.root, "d", "image", "mnt") in l]


def test_cp_into_and_out_of_the_mounts_of_a_running_container(dcli, image, sdk, tmp_path, stack):
    host = tmp_path / "bind"
    ro_host = tmp_path / "robind"
    host.mkdir()
    ro_host.mkdir()
    dcli("run", "-d", "--name", "cp-mnt", "-v", "cpvol:/data", "-v", "%s:/bnd" % host,
         "-v", "%s:/rob:ro" % ro_host, "-v", "cprovol:/rov:ro", "--tmpfs", "/tm", image, "sleep", "300")
    (tmp_path / "f.txt").write_text("hello\n")
    for dest in ("/data", "/bnd", "/tm"):
        dcli("cp", tmp_path / "f.txt", "cp-mnt:%s/x.txt" % dest)
        assert dcli("exec", "cp-mnt", "cat", dest + "/x.txt").stdout == b"hello\n", dest
        assert tar_members(dcli("cp", "cp-mnt:%s/x.txt" % dest, "-").stdout) == {"x.txt": b"hello\n"}
    assert (host / "x.txt").read_text() == "hello\n"
    # what the container writes in its mounts comes out
    dcli("exec", "cp-mnt", "sh", "-c", "echo in-vol > /data/v; echo in-tmpfs > /tm/t")
    assert tar_members(dcli("cp", "cp-mnt:/data", "-").stdout)["data/v"] == b"in-vol\n"
    assert tar_members(dcli("cp", "cp-mnt:/tm/t", "-").stdout) == {"t": b"in-tmpfs\n"}
    for dest in ("/rob", "/rov"):
        r = dcli("cp", tmp_path / "f.txt", "cp-mnt:%s/" % dest, check=False)
        assert r.returncode != 0 and b"mounted volume is marked read-only" in r.stderr, r.stderr
    assert not (ro_host / "f.txt").exists()
    # the runtime's pseudo filesystems are listed empty; export has the rootfs alone
    c = sdk.containers.get("cp-mnt")
    stream, _ = c.get_archive("/proc")
    assert set(tar_members(b"".join(stream))) == {"proc"}
    exported = tar_members(b"".join(c.export()))
    assert "data/v" not in exported and "tm/t" not in exported and "bin/busybox" in exported
    dcli("rm", "-f", "-v", "cp-mnt")
    dcli("volume", "rm", "cpvol", "cprovol")


def test_cp_into_and_out_of_the_mounts_of_a_stopped_container(dcli, image, tmp_path, stack):
    host = tmp_path / "bind"
    host.mkdir()
    dcli("run", "--name", "cp-mnt-stopped", "-v", "cpvol2:/data", "-v", "%s:/bnd" % host,
         "-v", "cprovol2:/rov:ro", image, "sh", "-c", "echo by-run > /data/v; echo by-run > /bnd/b")
    assert tar_members(dcli("cp", "cp-mnt-stopped:/data/v", "-").stdout) == {"v": b"by-run\n"}
    assert tar_members(dcli("cp", "cp-mnt-stopped:/bnd/b", "-").stdout) == {"b": b"by-run\n"}
    (tmp_path / "f.txt").write_text("while stopped\n")
    dcli("cp", tmp_path / "f.txt", "cp-mnt-stopped:/data/")
    dcli("cp", tmp_path / "f.txt", "cp-mnt-stopped:/bnd/")
    assert (host / "f.txt").read_text() == "while stopped\n"
    r = dcli("cp", tmp_path / "f.txt", "cp-mnt-stopped:/rov/", check=False)
    assert r.returncode != 0 and b"mounted volume is marked read-only" in r.stderr
    assert no_snapshot_mounts(stack)
    # the volume really has it (another container sees it), the layer under /data does not
    out = dcli("run", "--rm", "-v", "cpvol2:/d", image, "cat", "/d/f.txt").stdout
    assert out == b"while stopped\n"
    assert "A /data/f.txt" not in dcli("diff", "cp-mnt-stopped").stdout.decode()
    dcli("rm", "-v", "cp-mnt-stopped")
    dcli("volume", "rm", "cpvol2", "cprovol2")


def test_read_only_rootfs(dcli, image, tmp_path, stack):
    (tmp_path / "f.txt").write_text("x\n")
    dcli("run", "-d", "--name", "cp-ro", "--read-only", "-v", "cpvol3:/data", "--tmpfs", "/tmp",
         image, "sleep", "300")
    dcli("cp", tmp_path / "f.txt", "cp-ro:/data/")
    assert dcli("exec", "cp-ro", "cat", "/data/f.txt").stdout == b"x\n"
    for dest in ("/var", "/tmp"):       # a --tmpfs is no mount point for Docker's check
        r = dcli("cp", tmp_path / "f.txt", "cp-ro:%s/" % dest, check=False)
        assert r.returncode != 0 and b"container rootfs is marked read-only" in r.stderr, dest
    dcli("stop", "-t", "0", "cp-ro")
    r = dcli("cp", tmp_path / "f.txt", "cp-ro:/var/", check=False)
    assert r.returncode != 0 and b"container rootfs is marked read-only" in r.stderr
    dcli("cp", tmp_path / "f.txt", "cp-ro:/data/g.txt")
    assert no_snapshot_mounts(stack)
    dcli("rm", "-v", "cp-ro")
    dcli("volume", "rm", "cpvol3")


def test_cp_archive_mode_owner(dcli, image, tmp_path):
    src = tmp_path / "own.txt"
    src.write_text("owned\n")
    os.chown(src, 1234, 5678)
    dcli("run", "-d", "--name", "cp-own", "--user", "app", image, "sleep", "300")
    dcli("cp", src, "cp-own:/tmp/plain.txt")            # the tar's owner
    dcli("cp", "-a", src, "cp-own:/tmp/archive.txt")    # the container's user
    out = dcli("exec", "cp-own", "stat", "-c", "%n %u:%g", "/tmp/plain.txt", "/tmp/archive.txt").stdout
    assert out.decode().split("\n")[:2] == ["/tmp/plain.txt 1234:5678", "/tmp/archive.txt 1000:1000"]
    dcli("stop", "-t", "0", "cp-own")
    dcli("cp", "-a", src, "cp-own:/tmp/stopped.txt")
    members = tarfile.open(fileobj=io.BytesIO(dcli("cp", "cp-own:/tmp/stopped.txt", "-").stdout))
    assert (members.getmembers()[0].uid, members.getmembers()[0].gid) == (1000, 1000)
    dcli("rm", "cp-own")
