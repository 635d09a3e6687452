import os

import pytest

from dockyard_common import errors
from helpers import record


def test_create_and_get(env):
    rec = env.containers.create(record(name="web", labels={"a": "b"}))
    assert rec.state.status == "created"
    assert rec.state.started_at == "0001-01-01T00:00:00Z"
    assert rec.created
    assert os.path.isdir(env.layout.container_dir(rec.id))
    got = env.containers.get(rec.id)
    assert got.name == "web" and got.labels == {"a": "b"}
    assert got.rootfs[0].options == ["rbind"]
    assert got.config_json == rec.config_json
    assert got.log_path == env.layout.container_log(rec.id)


def test_lookup_by_name_and_prefix(env):
    a = env.containers.create(record(cid="abc" + "0" * 61, name="one"))
    env.containers.create(record(cid="abd" + "0" * 61, name="two"))
    assert env.containers.get("one").id == a.id
    assert env.containers.get("/one").id == a.id
    assert env.containers.get("abc").id == a.id
    with pytest.raises(errors.InvalidArgument) as ei:
        env.containers.get("ab")
    assert "multiple IDs found with provided prefix: ab" in str(ei.value)
    with pytest.raises(errors.NotFound) as ei:
        env.containers.get("nope")
    assert str(ei.value) == "No such container: nope"
    with pytest.raises(errors.NotFound):
        env.containers.get("")


def test_name_wins_over_prefix(env):
    a = env.containers.create(record(cid="ab" + "1" * 62, name="x1"))
    b = env.containers.create(record(name="ab"))
    assert env.containers.get("ab").id == b.id
    assert env.containers.get("ab1").id == a.id


def test_name_conflict(env):
    a = env.containers.create(record(name="web"))
    with pytest.raises(errors.Conflict) as ei:
        env.containers.create(record(name="/web"))
    assert str(ei.value) == (
        'Conflict. The container name "/web" is already in use by container "%s". You have to '
        "remove (or rename) that container to be able to reuse that name." % a.id)


def test_duplicate_id_and_bad_id(env):
    rec = record()
    env.containers.create(rec)
    with pytest.raises(errors.Conflict):
        env.containers.create(rec)
    with pytest.raises(errors.InvalidArgument):
        env.containers.create(record(cid="xyz"))
    with pytest.raises(errors.InvalidArgument):
        env.containers.create(record(name="-bad name"))


def test_generated_name(env):
    rec = env.containers.create(record())
    assert rec.name and "_" in rec.name


def test_list_all_and_running(env):
    a = env.containers.create(record(name="aa"))
    b = env.containers.create(record(name="bb"))
    env.tasks.start(b.id)
    assert {r.id for r in env.containers.list(all=True)} == {a.id, b.id}
    assert [r.id for r in env.containers.list(all=False)] == [b.id]


def test_update(env):
    rec = env.containers.create(record())
    out = env.containers.update(rec.id[:10], host_config_json=b'{"Memory": 1}', spec_json=b"")
    assert out.host_config_json == b'{"Memory": 1}'
    assert out.spec_json == rec.spec_json


def test_rename(env):
    a = env.containers.create(record(name="aa"))
    b = env.containers.create(record(name="bb"))
    assert env.containers.rename("aa", "/cc").name == "cc"
    assert env.containers.get("cc").id == a.id
    with pytest.raises(errors.NotFound):
        env.containers.get("aa")
    with pytest.raises(errors.Conflict) as ei:
        env.containers.rename("cc", "bb")
    assert 'The container name "/bb" is already in use by container "%s"' % b.id in str(ei.value)
    with pytest.raises(errors.InvalidArgument):
        env.containers.rename("cc", "")
    with pytest.raises(errors.InvalidArgument):
        env.containers.create(record(name="a"))  # Docker needs two characters at least


def test_delete(env):
    rec = env.containers.create(record(name="gone"))
    log = env.layout.container_log(rec.id)
    open(log, "w").write("x")
    env.tasks.create(rec.id)
    env.containers.delete("gone")
    assert not os.path.exists(env.layout.container_dir(rec.id))
    assert ("Delete", rec.id, "") in env.shim.calls
    with pytest.raises(errors.NotFound):
        env.containers.get(rec.id)
    # the name is free again
    env.containers.create(record(name="gone"))


def test_delete_running_refused(env):
    rec = env.containers.create(record())
    env.tasks.start(rec.id)
    with pytest.raises(errors.FailedPrecondition) as ei:
        env.containers.delete(rec.id)
    assert "You cannot remove a running container %s" % rec.id in str(ei.value)
    env.tasks.pause(rec.id)
    with pytest.raises(errors.FailedPrecondition) as ei:
        env.containers.delete(rec.id)
    assert "paused" in str(ei.value)


def test_records_survive_reopen(env):
    rec = env.containers.create(record(name="keep"))
    env.tasks.start(rec.id)
    env.store.close()
    env.reopen()
    st = env.containers.get("keep").state
    assert st.running and st.status == "running" and st.pid > 0


def test_health_json_is_kept_and_replaced(env):
    rec = env.containers.create(record())
    assert env.containers.get(rec.id).health_json == b""
    env.containers.update(rec.id, health_json=b'{"run": "x", "health": {"Status": "healthy"}}')
    env.reopen()   # it outlives a restart of container-service
    assert b"healthy" in env.containers.get(rec.id).health_json
    env.containers.update(rec.id, config_json=b'{"Image": "b"}')   # other documents leave it alone
    assert b"healthy" in env.containers.get(rec.id).health_json


def test_database_of_an_older_version_gets_the_new_column(tmp_path):
    import sqlite3
    from dockyard_containers.records import Store
    path = str(tmp_path / "old.db")
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE containers (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, "
                     "image TEXT, image_id TEXT, snapshot_key TEXT, created TEXT, runtime TEXT, "
                     "resolv_conf_path TEXT, hostname_path TEXT, hosts_path TEXT, log_path TEXT, "
                     "config_json BLOB, host_config_json BLOB, spec_json BLOB, network_json BLOB, "
                     "mounts_json BLOB, rootfs TEXT, labels TEXT, state TEXT);")
    db.close()
    store = Store(path)
    try:
        rec = store.create(record())
        assert store.get(rec.id).health_json == b""
    finally:
        store.close()
