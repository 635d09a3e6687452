"""The container's init layer through the real stack and the docker CLI, as Docker's "<id>-init":
the mount points the runtime binds over (/etc/hosts, /etc/resolv.conf, ...) and /.dockerenv live
below the writable layer, so `docker diff` of a fresh container is empty, `docker commit` holds
only what the container wrote, `docker export` has the (empty) mount points and /.dockerenv, and
`docker cp` still reads the container's real hosts file. Stopping and starting changes nothing."""

import io
import json
import tarfile

import pytest

from dockyard_common.testing.dockercli import import_rootfs
from dockyard_common.testing.rootfs import CONTAINER_GROUP, CONTAINER_PASSWD, make_rootfs

IMAGE = "initlayer/busybox:latest"


@pytest.fixture(scope="module")
def image(dcli, tmp_path_factory):
    root = make_rootfs(str(tmp_path_factory.mktemp("rootfs")), dirs=("tmp", "proc", "dev"),
                       passwd=CONTAINER_PASSWD, group=CONTAINER_GROUP)
    return import_rootfs(dcli, root, IMAGE, changes=('CMD ["sh"]', "ENV PATH=/bin"))


def tar_members(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name.rstrip("/"): m for m in tar.getmembers()}


def diff_lines(dcli, ref):
    return set(dcli("diff", ref).out.splitlines())


def top_layer_names(dcli, ref):
    with tarfile.open(fileobj=io.BytesIO(dcli("save", ref).stdout)) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        top = outer.extractfile(manifest[0]["Layers"][-1]).read()
    return sorted(tar_members(top))


def test_fresh_container_diff_commit_export_cp(dcli, image):
    dcli("run", "-d", "--name", "il-fresh", image, "sleep", "300")
    try:
        assert diff_lines(dcli, "il-fresh") == set()
        dcli("exec", "il-fresh", "sh", "-c", "echo hi > /etc/foo; echo x > /tmp/x")
        assert diff_lines(dcli, "il-fresh") == {"C /etc", "A /etc/foo", "C /tmp", "A /tmp/x"}
        hosts = tar_members(dcli("cp", "il-fresh:/etc/hosts", "-").stdout)["hosts"]
        assert hosts.size > 0                     # the container's hosts file, not the mount point
        members = tar_members(dcli("export", "il-fresh").stdout)
        for name in (".dockerenv", "etc/hosts", "etc/resolv.conf", "etc/hostname", "dev/console"):
            assert members[name].isfile() and members[name].size == 0, name
        assert members["etc/mtab"].issym() and members["etc/mtab"].linkname == "/proc/mounts"
        assert members["dev/pts"].isdir() and members["sys"].isdir()
        dcli("commit", "il-fresh", "initlayer/committed:1")
        assert top_layer_names(dcli, "initlayer/committed:1") == ["etc", "etc/foo", "tmp", "tmp/x"]
        # stopped, then started again: the same diff, the real hosts file
        dcli("stop", "-t", "0", "il-fresh")
        assert diff_lines(dcli, "il-fresh") == {"C /etc", "A /etc/foo", "C /tmp", "A /tmp/x"}
        assert tar_members(dcli("cp", "il-fresh:/etc/hosts", "-").stdout)["hosts"].size > 0
        dcli("start", "il-fresh")
        assert diff_lines(dcli, "il-fresh") == {"C /etc", "A /etc/foo", "C /tmp", "A /tmp/x"}
        assert dcli("exec", "il-fresh", "cat", "/etc/foo").out == "hi\n"
    finally:
        dcli("rm", "-f", "il-fresh", check=False)
        dcli("rmi", "initlayer/committed:1", check=False)


def test_read_only_and_created_containers(dcli, image):
    dcli("run", "-d", "--read-only", "--name", "il-ro", image, "sleep", "300")
    dcli("create", "--name", "il-created", image, "true")
    try:
        assert diff_lines(dcli, "il-ro") == set()
        assert diff_lines(dcli, "il-created") == set()
        assert ".dockerenv" in tar_members(dcli("export", "il-ro").stdout)
        r = dcli("exec", "il-ro", "touch", "/etc/x", check=False)
        assert r.returncode != 0 and "Read-only file system" in r.err
    finally:
        dcli("rm", "-f", "il-ro", "il-created", check=False)
