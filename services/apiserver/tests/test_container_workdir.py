"""The working dir is checked at create as dockerd's SetupWorkingDirectory (compared with 20.10)."""

import pytest

from dockyard_api.types.v1 import types_pb2

from container_fakes import JSON, Daemon

FAKE_DAEMON = Daemon    # conftest's fixtures over the container world

DIR, SYMLINK = 1 << 31, 1 << 27


def _create(client, workdir):
    return client.post("/v1.41/containers/create", json={"Image": "busybox", "WorkingDir": workdir},
                       headers=JSON)


@pytest.fixture
def stats(daemon):
    w = daemon.world
    w.path_stats.update({
        "/etc": types_pb2.PathStat(name="etc", mode=DIR | 0o755),
        "/etc/passwd": types_pb2.PathStat(name="passwd", mode=0o644),
        "/bin/sh": types_pb2.PathStat(name="sh", mode=SYMLINK | 0o777, link_target="/bin/busybox"),
        "/bin/busybox": types_pb2.PathStat(name="busybox", mode=0o755),
        "/lib64": types_pb2.PathStat(name="lib64", mode=SYMLINK | 0o777, link_target="/lib"),
        "/lib": types_pb2.PathStat(name="lib", mode=DIR | 0o755),
    })
    return w


@pytest.mark.parametrize("workdir", ["/etc/passwd", "/bin/sh"])
def test_a_file_in_the_way_fails_the_create(client, stats, workdir):
    r = _create(client, workdir)
    assert r.status_code == 400
    assert r.get_json() == {"message": "Cannot mkdir: %s is not a directory" % workdir}
    assert not stats.snapshots     # the prepared snapshot is undone


@pytest.mark.parametrize("workdir", ["/etc", "/lib64", "/new/dir", "/etc/"])
def test_directories_symlinks_to_them_and_missing_paths_pass(client, stats, workdir):
    assert _create(client, workdir).status_code == 201
