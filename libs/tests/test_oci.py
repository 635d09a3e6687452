"""dockyard_common.oci: the spec dockerd would build, and Docker's user resolution."""

import os

import pytest

from dockyard_common import errors, oci

CID = "ab" * 32


def build(config=None, host_config=None, **kw):
    kw.setdefault("container_id", CID)
    kw.setdefault("netns_path", "/run/netns/dy-abab")
    kw.setdefault("hostname", CID[:12])
    kw.setdefault("mounts", [])
    kw.setdefault("cgroups_path", "/dockyard/" + CID)
    return oci.build_spec(config or {"Cmd": ["sh"]}, host_config or {}, **kw)


def by_dest(spec):
    return {m["destination"]: m for m in spec["mounts"]}


def test_basic_process():
    spec = build({"Entrypoint": ["/bin/echo"], "Cmd": ["hi"], "Env": ["A=1"], "WorkingDir": "/srv"})
    assert spec["ociVersion"] == "1.0.2"
    proc = spec["process"]
    assert proc["args"] == ["/bin/echo", "hi"]
    assert proc["cwd"] == "/srv"
    assert proc["terminal"] is False
    assert proc["user"] == {"uid": 0, "gid": 0}
    assert proc["env"] == ["PATH=" + oci.DEFAULT_PATH, "HOSTNAME=" + CID[:12], "A=1"]
    assert "rlimits" not in proc and "oomScoreAdj" not in proc and "noNewPrivileges" not in proc
    assert spec["hostname"] == CID[:12]
    assert spec["root"] == {"path": "rootfs", "readonly": False}
    assert spec["linux"]["cgroupsPath"] == "/dockyard/" + CID
    assert spec["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"   # Docker's default profile
    assert spec["annotations"] == {oci.USER_ANNOTATION: ""}   # the shim resolves root


def test_env_user_path_wins_and_tty_term():
    spec = build({"Cmd": ["sh"], "Tty": True, "Env": ["PATH=/x", "TERM=vt100", "B=2"]})
    assert spec["process"]["terminal"] is True
    assert spec["process"]["env"] == ["PATH=/x", "HOSTNAME=" + CID[:12], "TERM=vt100", "B=2"]
    assert build({"Cmd": ["sh"], "Tty": True})["process"]["env"][2] == "TERM=xterm"


def test_default_cwd():
    assert build({"Cmd": ["sh"], "WorkingDir": ""})["process"]["cwd"] == "/"


def test_user_annotation():
    spec = build({"Cmd": ["id"], "User": "app:staff"})
    assert spec["annotations"][oci.USER_ANNOTATION] == "app:staff"
    assert spec["process"]["user"] == {"uid": 0, "gid": 0}


def test_namespaces_with_and_without_netns():
    ns = build()["linux"]["namespaces"]
    assert {"type": "network", "path": "/run/netns/dy-abab"} in ns
    assert {n["type"] for n in ns} == {"pid", "ipc", "uts", "mount", "network"}
    ns = build(netns_path=None)["linux"]["namespaces"]
    assert {n["type"] for n in ns} == {"pid", "ipc", "uts", "mount"}
    ns = build(host_config={"PidMode": "host", "IpcMode": "host"})["linux"]["namespaces"]
    assert {n["type"] for n in ns} == {"uts", "mount", "network"}


def test_default_capabilities():
    caps = build()["process"]["capabilities"]
    assert set(caps) == {"bounding", "effective", "permitted"}
    assert caps["bounding"] == oci.DEFAULT_CAPABILITIES == caps["effective"] == caps["permitted"]
    assert len(oci.DEFAULT_CAPABILITIES) == 14


def test_cap_add_drop():
    caps = build(host_config={"CapAdd": ["SYS_ADMIN"], "CapDrop": ["CHOWN", "cap_kill"]})
    bounding = caps["process"]["capabilities"]["bounding"]
    assert "CAP_SYS_ADMIN" in bounding and "CAP_CHOWN" not in bounding and "CAP_KILL" not in bounding
    none = build(host_config={"CapDrop": ["ALL"]})["process"]["capabilities"]
    assert none["bounding"] == none["effective"] == []
    only = build(host_config={"CapDrop": ["ALL"], "CapAdd": ["NET_ADMIN"]})
    assert only["process"]["capabilities"]["effective"] == ["CAP_NET_ADMIN"]
    every = build(host_config={"CapAdd": ["ALL"], "CapDrop": ["SYS_ADMIN"]})
    eff = every["process"]["capabilities"]["effective"]
    assert "CAP_SYS_ADMIN" not in eff and "CAP_NET_ADMIN" in eff
    with pytest.raises(errors.InvalidArgument):
        build(host_config={"CapAdd": ["NOT_A_CAP"]})


def test_default_mounts_and_paths():
    spec = build()
    dests = [m["destination"] for m in spec["mounts"]]
    assert dests == ["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"]
    m = by_dest(spec)
    assert "ro" in m["/sys"]["options"] and "ro" in m["/sys/fs/cgroup"]["options"]
    assert "size=65536k" in m["/dev/shm"]["options"]
    assert spec["linux"]["maskedPaths"] == oci.MASKED_PATHS
    assert "/proc/kcore" in oci.MASKED_PATHS and "/sys/firmware" in oci.MASKED_PATHS
    assert spec["linux"]["readonlyPaths"] == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                              "/proc/sysrq-trigger"]


def test_shm_size():
    assert "size=1024k" in by_dest(build(host_config={"ShmSize": 1 << 20}))["/dev/shm"]["options"]


def test_extra_mounts_appended_and_replace_defaults():
    extra = [{"destination": "/data/sub", "type": "bind", "source": "/a", "options": ["rbind"]},
             {"destination": "/etc/hosts", "type": "bind", "source": "/h", "options": ["rbind"]},
             {"destination": "/data", "type": "bind", "source": "/b", "options": ["rbind"]},
             {"destination": "/dev/shm", "type": "bind", "source": "/s", "options": ["rbind"]}]
    spec = build(mounts=extra)
    dests = [m["destination"] for m in spec["mounts"]]
    assert dests.count("/dev/shm") == 1
    assert by_dest(spec)["/dev/shm"]["source"] == "/s"
    assert dests.index("/data") < dests.index("/data/sub")
    assert dests[:6] == ["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue"]


def test_tmpfs_from_host_config():
    spec = build(host_config={"Tmpfs": {"/scratch": "rw,size=1m,exec", "/run": ""}})
    m = by_dest(spec)
    assert m["/scratch"]["type"] == "tmpfs"
    opts = m["/scratch"]["options"]
    assert "size=1m" in opts and "exec" in opts and "noexec" not in opts and "nosuid" in opts
    assert "noexec" in m["/run"]["options"]


def test_merge_tmpfs_options():
    assert oci.merge_tmpfs_options(["noexec", "size=1m", "exec", "size=2m", "ro", "rw"]) == \
        ["exec", "size=2m", "rw"]


def test_devices():
    rules = build()["linux"]["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    allowed = {(r["major"], r["minor"]) for r in rules[1:] if r["allow"]}
    assert allowed == {(1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1)}
    assert "devices" not in build()["linux"]


def test_privileged():
    spec = build(host_config={"Privileged": True})
    assert "CAP_SYS_ADMIN" in spec["process"]["capabilities"]["effective"]
    assert spec["linux"]["maskedPaths"] == [] and spec["linux"]["readonlyPaths"] == []
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert "ro" not in by_dest(spec)["/sys"]["options"]
    assert any(d["path"] == "/dev/null" for d in spec["linux"]["devices"])


def test_resources():
    res = build(host_config={"Memory": 64 << 20, "MemorySwap": 128 << 20, "CpuShares": 512,
                             "NanoCpus": 500000000, "CpusetCpus": "0", "PidsLimit": 20,
                             "OomKillDisable": True})["linux"]["resources"]
    assert res["memory"]["limit"] == 64 << 20
    if oci.swap_limit_supported():
        assert res["memory"]["swap"] == 128 << 20
    assert res["memory"]["disableOOMKiller"] is True
    assert res["cpu"] == {"shares": 512, "period": 100000, "quota": 50000, "cpus": "0"}
    assert res["pids"] == {"limit": 20}
    res = build(host_config={"CpuQuota": 20000, "CpuPeriod": 50000, "PidsLimit": -1})["linux"]["resources"]
    assert res["cpu"] == {"period": 50000, "quota": 20000}
    assert res["pids"] == {"limit": -1}
    assert "memory" not in res


def test_memory_swap_default_twice_memory():
    res = build(host_config={"Memory": 32 << 20})["linux"]["resources"]
    if oci.swap_limit_supported():
        assert res["memory"]["swap"] == 64 << 20


def test_rlimits_only_when_asked():
    spec = build(host_config={"Ulimits": [{"Name": "nofile", "Soft": 256, "Hard": 512}]})
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512}]


def test_security_options():
    spec = build(host_config={"SecurityOpt": ["no-new-privileges"], "OomScoreAdj": 100,
                              "ReadonlyRootfs": True, "Sysctls": {"net.ipv4.ip_forward": "1"}})
    assert spec["process"]["noNewPrivileges"] is True
    assert spec["process"]["oomScoreAdj"] == 100
    assert spec["root"]["readonly"] is True
    assert spec["linux"]["sysctl"] == {"net.ipv4.ip_forward": "1"}
    assert "noNewPrivileges" not in build(host_config={"SecurityOpt": ["no-new-privileges:false"]})["process"]
    assert build(host_config={"SecurityOpt": ["no-new-privileges=true"]})["process"]["noNewPrivileges"]


def test_domainname_sysctl_and_uts_host():
    spec = build({"Cmd": ["sh"], "Domainname": "example.org"})
    assert spec["linux"]["sysctl"]["kernel.domainname"] == "example.org"
    spec = build(host_config={"UTSMode": "host"})
    assert "hostname" not in spec
    assert "uts" not in {n["type"] for n in spec["linux"]["namespaces"]}


# --- resolve_user ----------------------------------------------------------------

@pytest.fixture
def rootfs(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "app:x:1000:1000:app:/home/app:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        "# comment\n\n")
    (etc / "group").write_text(
        "root:x:0:\nwheel:x:10:root,app\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n")
    return str(tmp_path)


@pytest.mark.parametrize("user,expected", [
    ("", (0, 0, [10], "/root")),
    ("root", (0, 0, [10], "/root")),
    ("app", (1000, 1000, [10, 50], "/home/app")),
    ("1000", (1000, 1000, [10, 50], "/home/app")),
    ("1000:1000", (1000, 1000, [], "/home/app")),
    ("app:staff", (1000, 50, [], "/home/app")),
    ("app:10", (1000, 10, [], "/home/app")),
    ("nobody", (65534, 65534, [], "/nonexistent")),
    ("4321", (4321, 0, [], "/")),
    ("4321:4321", (4321, 4321, [], "/")),
])
def test_resolve_user(rootfs, user, expected):
    assert oci.resolve_user(rootfs, user) == expected


def test_resolve_unknown_user(rootfs):
    with pytest.raises(errors.InvalidArgument) as ei:
        oci.resolve_user(rootfs, "ghost")
    assert str(ei.value) == "unable to find user ghost: no matching entries in passwd file"


def test_resolve_unknown_group(rootfs):
    with pytest.raises(errors.InvalidArgument) as ei:
        oci.resolve_user(rootfs, "app:ghosts")
    assert str(ei.value) == "unable to find group ghosts: no matching entries in group file"


def test_resolve_without_passwd(tmp_path):
    assert oci.resolve_user(str(tmp_path), "") == (0, 0, [], "/")
    assert oci.resolve_user(str(tmp_path), "12:34") == (12, 34, [], "/")
    with pytest.raises(errors.InvalidArgument):
        oci.resolve_user(str(tmp_path), "app")


def test_resolve_never_leaves_rootfs(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("evil:x:7:7::/evil:/bin/sh\n")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    # absolute and relative links must stay inside the rootfs
    os.symlink(str(outside / "passwd"), root / "etc" / "passwd")
    with pytest.raises(errors.InvalidArgument):
        oci.resolve_user(str(root), "evil")
    os.unlink(root / "etc" / "passwd")
    os.symlink("../../outside/passwd", root / "etc" / "passwd")
    with pytest.raises(errors.InvalidArgument):
        oci.resolve_user(str(root), "evil")
    # an absolute link resolved inside the rootfs works
    (root / "data").mkdir()
    (root / "data" / "passwd").write_text("good:x:5:6::/g:/bin/sh\n")
    os.unlink(root / "etc" / "passwd")
    os.symlink("/data/passwd", root / "etc" / "passwd")
    assert oci.resolve_user(str(root), "good") == (5, 6, [], "/g")


def test_secure_join(tmp_path):
    os.symlink("/", tmp_path / "up")
    assert oci.secure_join(str(tmp_path), "/up/../../etc") == os.path.join(str(tmp_path), "etc")


def test_init_runs_the_command_under_docker_init(monkeypatch):
    monkeypatch.setenv("DOCKYARD_INIT_PATH", "/usr/bin/tini-static")
    spec = oci.build_spec({"Cmd": ["sleep", "1"]}, {"Init": True}, container_id="c" * 64,
                          netns_path=None, hostname="h")
    assert spec["process"]["args"] == ["/sbin/docker-init", "--", "sleep", "1"]
    init = [m for m in spec["mounts"] if m["destination"] == "/sbin/docker-init"]
    assert init == [{"destination": "/sbin/docker-init", "type": "bind",
                     "source": "/usr/bin/tini-static", "options": ["bind", "ro"]}]
