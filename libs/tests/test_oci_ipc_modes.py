"""IpcMode in the OCI spec: /dev/shm and the shareable-tmpfs annotation (dockerd's ShmPath)."""

from dockyard_common import oci

CID = "ab" * 32


def build(host_config, mounts=()):
    return oci.build_spec({"Cmd": ["sh"]}, host_config, container_id=CID, netns_path=None,
                          hostname=CID[:12], mounts=list(mounts))


def shm_mounts(spec):
    return [m for m in spec["mounts"] if m["destination"] == "/dev/shm"]


def ns_types(spec):
    return [n["type"] for n in spec["linux"]["namespaces"]]


def test_private_keeps_its_own_tmpfs():
    for mode in ("private", "", "container:" + CID):
        spec = build({"IpcMode": mode})
        [shm] = shm_mounts(spec)
        assert shm["type"] == "tmpfs" and shm["source"] == "shm"
        assert oci.SHM_SIZE_ANNOTATION not in spec["annotations"]
        assert "ipc" in ns_types(spec)


def test_shareable_binds_the_bundle_tmpfs_of_its_size():
    spec = build({"IpcMode": "shareable", "ShmSize": 8 << 20})
    assert shm_mounts(spec) == [{"destination": "/dev/shm", "type": "bind", "source": "shm",
                                 "options": ["rbind", "rprivate"]}]
    assert spec["annotations"][oci.SHM_SIZE_ANNOTATION] == str(8 << 20)
    assert "ipc" in ns_types(spec)


def test_shareable_with_a_users_dev_shm_mounts_no_tmpfs():
    user = {"destination": "/dev/shm", "type": "bind", "source": "/s", "options": ["rbind"]}
    spec = build({"IpcMode": "shareable"}, [user])
    assert shm_mounts(spec) == [user]
    assert oci.SHM_SIZE_ANNOTATION not in spec["annotations"]


def test_host_binds_the_hosts_shm_as_dockerd():
    spec = build({"IpcMode": "host"})
    assert shm_mounts(spec) == [{"destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
                                 "options": ["rbind", "rprivate"]}]
    assert "ipc" not in ns_types(spec)


def test_none_has_no_dev_shm():
    spec = build({"IpcMode": "none"})
    assert shm_mounts(spec) == [] and "ipc" in ns_types(spec)
