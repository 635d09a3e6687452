"""`docker run` --group-add, --cgroup-parent and --storage-opt through the real stack (the groups
are resolved by shim-runner in the container's /etc/group, runc places the cgroups)."""

import glob
import os

import docker
import pytest

import stackutil
from stackutil import ok, run

IMAGE = "dy-it/runopts:latest"
APPLETS = ("sh", "id", "cat", "sleep", "true")
PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "app:x:1000:1000:app:/home/app:/bin/sh\n")
GROUP = "root:x:0:\ntty:x:5:\nwheel:x:10:root,app\napp:x:1000:\nstaff:x:50:app\n"
CGROUP_ROOT = "/sys/fs/cgroup"
QUOTA = "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"

pytestmark = stackutil.NEEDS_REAL_STACK
STACK_IMAGE = stackutil.BusyboxImage(IMAGE, APPLETS, passwd=PASSWD, group=GROUP)   # conftest's `st`


# -- --group-add ------------------------------------------------------------------------------

def test_group_add_number(st):
    # root's /etc/group membership (wheel) stays, the primary gid is listed as under dockerd.
    assert ok(run(st, "--group-add", "123", IMAGE, "id")).strip() == \
        "uid=0(root) gid=0(root) groups=0(root),10(wheel),123"


def test_group_add_names_with_user(st):
    out = ok(run(st, "-u", "app", "--group-add", "staff", "--group-add", "77", IMAGE, "id"))
    assert out.strip() == "uid=1000(app) gid=1000(app) groups=10(wheel),50(staff),77,1000(app)"
    out = ok(run(st, "-u", "app:tty", "--group-add", "123", IMAGE, "id"))
    assert out.strip() == "uid=1000(app) gid=5(tty) groups=5(tty),123"


def test_group_add_unknown_name_is_refused(st):
    r = run(st, "--group-add", "nosuchgroup", IMAGE, "id")
    assert r.returncode == 125
    assert "Unable to find group nosuchgroup: no matching entries in group file" in r.stderr
    c = st.client.containers.create(IMAGE, "id", group_add=["nosuchgroup"])
    try:
        with pytest.raises(docker.errors.APIError) as ei:
            c.start()
        assert ei.value.status_code == 400
    finally:
        c.remove(force=True)


def test_exec_inherits_group_add(st):
    c = st.client.containers.run(IMAGE, "sleep 300", detach=True, group_add=["123"])
    try:
        code, out = c.exec_run("id")
        assert code == 0 and out.decode().strip() == \
            "uid=0(root) gid=0(root) groups=0(root),10(wheel),123"
        code, out = c.exec_run("id", user="app")
        assert code == 0 and out.decode().strip() == \
            "uid=1000(app) gid=1000(app) groups=10(wheel),50(staff),123,1000(app)"
    finally:
        c.remove(force=True)


# -- --cgroup-parent --------------------------------------------------------------------------

@pytest.fixture
def cgroup_parent():
    """A parent no one else uses; its directories (left by runc, as under dockerd) are removed."""
    name = "dy-it-cgparent-%d" % os.getpid()
    made = []
    yield name, made
    for path in made + glob.glob(os.path.join(CGROUP_ROOT, "*", name)):
        if os.path.isdir(path):
            os.rmdir(path)
    assert not glob.glob(os.path.join(CGROUP_ROOT, "*", name))


def _cgroups_of(pid):
    """{controller: path} from /proc/PID/cgroup (v1 and the unified line)."""
    out = {}
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            out[ctrls or "unified"] = path
    return out


def _cgroup_dir(ctrls, path):
    mount = "unified" if ctrls == "unified" else ctrls.replace("name=", "")
    return os.path.join(CGROUP_ROOT, mount) + path


def test_cgroup_parent_absolute(st, cgroup_parent):
    parent, _ = cgroup_parent
    c = st.client.containers.run(IMAGE, "sleep 300", detach=True, cgroup_parent="/" + parent,
                                 mem_limit="64m")
    removed = False
    try:
        c.reload()
        assert c.attrs["HostConfig"]["CgroupParent"] == "/" + parent
        paths = _cgroups_of(c.attrs["State"]["Pid"])
        assert paths["cpu"] == paths["memory"] == "/%s/%s" % (parent, c.id)
        dirs = glob.glob(os.path.join(CGROUP_ROOT, "*", parent, c.id))
        assert len(dirs) >= 3
        mem_dir = os.path.join(CGROUP_ROOT, "memory", parent, c.id)
        with open(os.path.join(mem_dir, "memory.limit_in_bytes")) as f:
            assert int(f.read()) == 64 * 1024 * 1024

        stats = c.stats(stream=False)
        assert stats["memory_stats"]["limit"] == 64 * 1024 * 1024
        c.update(mem_limit="128m", memswap_limit="256m")
        with open(os.path.join(mem_dir, "memory.limit_in_bytes")) as f:
            assert int(f.read()) == 128 * 1024 * 1024
        c.pause()
        with open(os.path.join(CGROUP_ROOT, "freezer", parent, c.id, "freezer.state")) as f:
            assert f.read().strip() == "FROZEN"
        c.unpause()
        top = c.top()
        assert any("sleep 300" in " ".join(p) for p in top["Processes"])

        c.remove(force=True)
        removed = True
        assert glob.glob(os.path.join(CGROUP_ROOT, "*", parent, c.id)) == []
    finally:
        if not removed:
            c.remove(force=True)


def test_cgroup_parent_relative(st, cgroup_parent):
    # Relative to the runtime's own cgroup, as runc resolves it for dockerd.
    parent, made = cgroup_parent
    c = st.client.containers.run(IMAGE, "sleep 300", detach=True, cgroup_parent=parent)
    try:
        c.reload()
        paths = _cgroups_of(c.attrs["State"]["Pid"])
        for ctrls, path in paths.items():
            assert path.endswith("/%s/%s" % (parent, c.id)), (ctrls, path)
            made.append(os.path.dirname(_cgroup_dir(ctrls, path)))
    finally:
        c.remove(force=True)
    for ctrls, path in paths.items():
        assert not os.path.exists(_cgroup_dir(ctrls, path))


# -- --storage-opt ----------------------------------------------------------------------------

def test_storage_opt_size_is_refused(st):
    before = len(st.client.containers.list(all=True))
    r = run(st, "--storage-opt", "size=10m", IMAGE, "true")
    assert r.returncode == 125 and QUOTA in r.stderr
    with pytest.raises(docker.errors.APIError) as ei:
        st.client.containers.create(IMAGE, "true", storage_opt={"size": "10m"})
    assert ei.value.status_code == 400 and QUOTA in str(ei.value)
    with pytest.raises(docker.errors.APIError) as ei:
        st.client.containers.create(IMAGE, "true", storage_opt={"foo": "bar"})
    assert "Unknown option foo" in str(ei.value)
    assert len(st.client.containers.list(all=True)) == before
