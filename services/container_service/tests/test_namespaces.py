"""--ipc/--pid container:<donor>: the namespace paths and /dev/shm a start gives the task, and
dockerd's start errors (recorded as exit code 128)."""

import json

import pytest

from dockyard_common import errors, oci
from helpers import record

SHM_TMPFS = {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}


def spec_with(annotations=None):
    return json.dumps({"ociVersion": "1.0.2", "mounts": [dict(SHM_TMPFS)],
                       "annotations": annotations or {},
                       "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"},
                                                {"type": "mount"}]}}).encode()


def with_docs(host_config, spec_json, name=""):
    rec = record(name=name)
    rec.host_config_json = json.dumps(host_config).encode()
    rec.spec_json = spec_json
    return rec


def make(env, host_config, name="", annotations=None, run=False):
    rec = env.containers.create(with_docs(host_config, spec_with(annotations), name))
    if run:
        env.tasks.start(rec.id)
    return env.containers.get(rec.id)


def shareable_donor(env, run=True):
    return make(env, {"IpcMode": "shareable"}, name="donor",
                annotations={oci.SHM_SIZE_ANNOTATION: "67108864"}, run=run)


def sent_spec(env):
    return json.loads(env.shim.last_create.spec_json)


def namespaces(spec):
    return {ns["type"]: ns.get("path") for ns in spec["linux"]["namespaces"]}


def test_pid_join_uses_the_donor_pid_namespace(env):
    donor = make(env, {"IpcMode": "private"}, name="donor", run=True)
    joiner = make(env, {"IpcMode": "private", "PidMode": "container:" + donor.id})
    env.tasks.create(joiner.id)
    spec = sent_spec(env)
    assert namespaces(spec)["pid"] == "/proc/%d/ns/pid" % donor.state.pid
    assert namespaces(spec)["ipc"] is None
    assert spec["mounts"] == [SHM_TMPFS]   # its own private /dev/shm
    # the record keeps the spec without paths: the donor's pid is another at the next start
    assert "path" not in json.dumps(json.loads(env.containers.get(joiner.id).spec_json))


def test_ipc_join_of_a_shareable_donor_binds_its_shm(env):
    donor = shareable_donor(env)
    joiner = make(env, {"IpcMode": "container:" + donor.id})
    env.tasks.create(joiner.id)
    spec = sent_spec(env)
    assert namespaces(spec)["ipc"] == "/proc/%d/ns/ipc" % donor.state.pid
    assert spec["mounts"] == [oci.shareable_shm_mount()]
    assert spec["annotations"][oci.SHM_FROM_ANNOTATION] == donor.id


def test_ipc_join_of_a_host_ipc_donor_binds_the_host_shm(env):
    donor = make(env, {"IpcMode": "host"}, name="donor", run=True)
    joiner = make(env, {"IpcMode": "container:" + donor.id})
    env.tasks.create(joiner.id)
    spec = sent_spec(env)
    assert spec["mounts"] == [oci.shareable_shm_mount("/dev/shm")]
    assert oci.SHM_FROM_ANNOTATION not in spec["annotations"]


def test_a_users_dev_shm_mount_stays(env):
    donor = shareable_donor(env)
    joiner = env.containers.create(with_docs(
        {"IpcMode": "container:" + donor.id},
        json.dumps({"mounts": [{"destination": "/dev/shm", "type": "tmpfs",
                                "source": "tmpfs", "options": []}]}).encode()))
    env.tasks.create(joiner.id)
    assert sent_spec(env)["mounts"][0]["source"] == "tmpfs"


@pytest.mark.parametrize("mode", ["private", "none"])
def test_non_shareable_donor_is_refused(env, mode):
    donor = make(env, {"IpcMode": mode}, name="donor", run=True)
    joiner = make(env, {"IpcMode": "container:" + donor.id})
    with pytest.raises(errors.Internal) as exc:
        env.tasks.start(joiner.id)
    msg = ("can't join IPC of container %s: non-shareable IPC (hint: use IpcMode:shareable for "
           "the donor container)" % donor.id)
    assert str(exc.value) == msg
    st = env.tasks.get(joiner.id)
    assert (st.exit_code, st.error, st.running) == (128, msg, False)


def test_stopped_donors_are_refused(env):
    donor = shareable_donor(env, run=False)
    ipc = make(env, {"IpcMode": "container:" + donor.id})
    with pytest.raises(errors.Internal) as exc:
        env.tasks.start(ipc.id)
    assert str(exc.value) == ("can't join IPC of container %s: container %s is not running"
                              % (donor.id, donor.id))
    pid = make(env, {"IpcMode": "private", "PidMode": "container:" + donor.id})
    with pytest.raises(errors.Internal) as exc:
        env.tasks.start(pid.id)
    assert str(exc.value) == "container %s is not running" % donor.id


def test_removed_and_empty_donors(env):
    gone = "ab" * 32
    ipc = make(env, {"IpcMode": "container:" + gone})
    with pytest.raises(errors.Internal) as exc:
        env.tasks.start(ipc.id)
    assert str(exc.value) == "can't join IPC of container %s: No such container: %s" % (gone, gone)
    pid = make(env, {"IpcMode": "private", "PidMode": "container:"})
    with pytest.raises(errors.Internal) as exc:
        env.tasks.start(pid.id)
    assert str(exc.value) == ('cannot join PID of a non running container: : '
                              'invalid name or ID supplied: ""')
    ipc = make(env, {"IpcMode": "container:"})
    with pytest.raises(errors.Internal) as exc:
        env.tasks.start(ipc.id)
    assert str(exc.value) == 'can\'t join IPC of container : invalid name or ID supplied: ""'


def test_invalid_ipc_mode_fails_at_start(env):
    rec = make(env, {"IpcMode": "bogus", "PidMode": "bogus"})
    with pytest.raises(errors.Internal) as exc:
        env.tasks.start(rec.id)
    assert str(exc.value) == "Invalid IPC mode: bogus"
    assert env.tasks.get(rec.id).exit_code == 128


@pytest.mark.parametrize("mode", ["", "private", "shareable", "none", "host"])
def test_own_ipc_modes_pass_the_spec_unchanged(env, mode):
    rec = make(env, {"IpcMode": mode, "PidMode": "bogus"})   # dockerd ignores an odd PidMode
    env.tasks.create(rec.id)
    assert env.shim.last_create.spec_json == rec.spec_json
