"""docker update: dockerd's checks, the HostConfig merge, the runtime resources, the route."""

import json

import pytest

from dockyard_common import errors

from dockyard_apiserver.backend import container_update as cu

from container_fakes import JSON, Daemon

MiB = 1024 * 1024


def upd(**kw):
    return cu.normalize(kw)


# ---------------------------------------------------------------------- verify

@pytest.mark.parametrize("body, message", [
    ({"Memory": 4 * MiB}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": 64 * MiB, "MemorySwap": 32 * MiB},
     "Minimum memoryswap limit should be larger than memory limit, see usage"),
    ({"MemoryReservation": MiB}, "Minimum memory reservation allowed is 6MB"),
    ({"Memory": 16 * MiB, "MemoryReservation": 32 * MiB},
     "Minimum memory limit can not be less than memory reservation limit, see usage"),
    ({"NanoCpus": 10 ** 9, "CpuPeriod": 100000},
     "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
    ({"NanoCpus": 10 ** 9, "CpuQuota": 50000},
     "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
    ({"NanoCpus": 3 * 10 ** 9}, "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"),
    ({"CpuPeriod": 500}, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s"),
    ({"CpuQuota": 10}, "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    ({"CpusetCpus": "0-a"}, "Invalid value 0-a for cpuset cpus: invalid format: 0-a"),
    ({"CpusetCpus": "5"}, "Requested CPUs are not available - requested 5, available: 0-1"),
    ({"CpusetMems": "3"}, "Requested memory nodes are not available - requested 3, available: 0"),
    ({"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000"),
    ({"RestartPolicy": {"Name": "sometimes"}}, "invalid restart policy: unknown policy 'sometimes'"),
    ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}},
     "maximum retry count can only be used with 'on-failure'"),
])
def test_verify_rejects_like_dockerd(body, message):
    with pytest.raises(errors.InvalidArgument) as exc:
        cu.verify(cu.normalize(body), cpus={0, 1}, mems={0})
    assert message in str(exc.value)


def test_verify_accepts_sane_values():
    assert cu.verify(upd(Memory=96 * MiB, MemorySwap=128 * MiB, NanoCpus=5 * 10 ** 8, CpuShares=512,
                         CpusetCpus="0-1", CpusetMems="0", PidsLimit=50, BlkioWeight=300,
                         RestartPolicy={"Name": "on-failure", "MaximumRetryCount": 2}),
                     cpus={0, 1}, mems={0}) == []


def test_normalize_types_and_pids():
    assert upd(PidsLimit=-1)["PidsLimit"] == 0 and upd()["PidsLimit"] is None
    assert cu.normalize({"PidsLimit": 7}, api_at_least_1_40=False)["PidsLimit"] is None
    with pytest.raises(errors.InvalidArgument):
        upd(Memory="lots")


def test_parse_cpu_list():
    assert cu.parse_cpu_list("0-2,5") == {0, 1, 2, 5}
    for bad in ("a", "1-", "3-1", "1,,2"):
        with pytest.raises(ValueError):
            cu.parse_cpu_list(bad)


# ---------------------------------------------------------------------- merge

def test_merge_memory_needs_swap_like_dockerd():
    hc = {"Memory": 64 * MiB, "MemorySwap": 0}
    # dockerd stored MemorySwap = 2 * Memory at create: 96m fits under 128m...
    assert cu.merge("c", hc, upd(Memory=96 * MiB))["MemorySwap"] == 128 * MiB
    # ...200m does not, without a new swap limit
    with pytest.raises(errors.Conflict, match="Cannot update container c: Memory limit should be "
                                              "smaller than already set memoryswap limit"):
        cu.merge("c", hc, upd(Memory=200 * MiB))
    new = cu.merge("c", hc, upd(Memory=200 * MiB, MemorySwap=-1))
    assert new["Memory"] == 200 * MiB and new["MemorySwap"] == -1
    with pytest.raises(errors.Conflict):
        cu.merge("c", {}, upd(Memory=64 * MiB))       # no limit before: swap must come along


def test_merge_cpu_conflicts_and_fields():
    with pytest.raises(errors.Conflict, match="Nano CPUs cannot be updated as CPU Period"):
        cu.merge("c", {"CpuPeriod": 100000}, upd(NanoCpus=10 ** 9))
    with pytest.raises(errors.Conflict, match="CPU Quota cannot be updated as NanoCPUs"):
        cu.merge("c", {"NanoCpus": 10 ** 9}, upd(CpuQuota=50000))
    new = cu.merge("c", {"CpuShares": 100, "PidsLimit": 10},
                   upd(CpuShares=512, CpusetCpus="1", PidsLimit=0, BlkioWeight=500))
    assert new == {"CpuShares": 512, "CpusetCpus": "1", "PidsLimit": 0, "BlkioWeight": 500}


def test_merge_restart_policy_and_autoremove():
    new = cu.merge("c", {}, upd(RestartPolicy={"Name": "always"}))
    assert new["RestartPolicy"] == {"Name": "always", "MaximumRetryCount": 0}
    with pytest.raises(errors.Conflict, match="AutoRemove is enabled"):
        cu.merge("c", {"AutoRemove": True}, upd(RestartPolicy={"Name": "always"}))


def test_linux_resources_for_runc_update():
    u = upd(Memory=96 * MiB, MemorySwap=128 * MiB, NanoCpus=5 * 10 ** 8, PidsLimit=-1)
    res = cu.linux_resources(cu.merge("c", {"Memory": 64 * MiB}, u), u)
    assert "devices" not in res
    assert res["memory"]["limit"] == 96 * MiB
    assert res["cpu"] == {"period": 100000, "quota": 50000}
    assert res["pids"] == {"limit": -1}


def test_update_spec_keeps_devices():
    spec = {"linux": {"resources": {"devices": [{"allow": False}], "memory": {"limit": 1}}}}
    out = json.loads(cu.update_spec(json.dumps(spec).encode(), {"memory": {"limit": 2}}))
    assert out["linux"]["resources"] == {"devices": [{"allow": False}], "memory": {"limit": 2}}


# ---------------------------------------------------------------------- route

@pytest.fixture
def daemon(tmp_path):
    d = Daemon(str(tmp_path))
    w = d.world
    w.updates = []

    def containers_update(req):
        rec = d.clients.containers._find(req.id)
        w.calls.append(("containers", "Update", rec.id))
        if req.host_config_json:
            rec.host_config_json = req.host_config_json
        if req.spec_json:
            rec.spec_json = req.spec_json
        return rec

    def tasks_update(req):
        w.calls.append(("tasks", "Update", req.id))
        w.updates.append(json.loads(req.resources_json))
        from dockyard_api.types.v1 import types_pb2
        return types_pb2.Empty()

    d.clients.containers.Update = containers_update
    d.clients.tasks.Update = tasks_update
    return d


def _create(daemon, running=False, **hc):
    """A record as the create route leaves it (built here: the route is not under test)."""
    from dockyard_api.containers.v1 import containers_pb2
    from dockyard_common import ids, oci
    cid = ids.new_id()
    spec = {"linux": {"resources": oci.linux_resources(hc, False)}}
    state = containers_pb2.ContainerState(status="running" if running else "created",
                                          running=running, pid=42 if running else 0)
    daemon.world.records[cid] = containers_pb2.Container(
        id=cid, name="c" + cid[:6], image="busybox", host_config_json=json.dumps(hc).encode(),
        spec_json=json.dumps(spec).encode(), state=state)
    return cid


def _update(client, ref, **body):
    return client.post("/v1.45/containers/%s/update" % ref, data=json.dumps(body), headers=JSON)


def test_update_running_container_changes_record_and_cgroup(client, daemon):
    cid = _create(daemon, running=True, Memory=64 * MiB)
    r = _update(client, cid[:10], Memory=96 * MiB, MemorySwap=128 * MiB, PidsLimit=30)
    assert r.status_code == 200 and r.get_json() == {"Warnings": []}
    rec = daemon.world.records[cid]
    hc = json.loads(rec.host_config_json)
    assert hc["Memory"] == 96 * MiB and hc["MemorySwap"] == 128 * MiB and hc["PidsLimit"] == 30
    assert json.loads(rec.spec_json)["linux"]["resources"]["memory"]["limit"] == 96 * MiB
    assert daemon.world.updates[-1]["memory"]["limit"] == 96 * MiB
    assert daemon.world.updates[-1]["pids"] == {"limit": 30}
    assert [e["Action"] for e in daemon.events._ring][-1] == "update"


def test_update_stopped_container_touches_only_the_record(client, daemon):
    cid = _create(daemon)
    r = _update(client, cid, CpuShares=512, RestartPolicy={"Name": "always"})
    assert r.status_code == 200
    hc = json.loads(daemon.world.records[cid].host_config_json)
    assert hc["CpuShares"] == 512 and hc["RestartPolicy"]["Name"] == "always"
    assert daemon.world.updates == []


def test_update_errors(client, daemon):
    r = _update(client, "nosuch", CpuShares=2)
    assert r.status_code == 404 and r.get_json()["message"] == "No such container: nosuch"
    cid = _create(daemon, Memory=64 * MiB)
    r = _update(client, cid, Memory=MiB)
    assert r.status_code == 400 and r.get_json()["message"] == "Minimum memory limit allowed is 6MB"
    r = _update(client, cid, Memory=96 * MiB, MemorySwap=64 * MiB)
    assert r.status_code == 400 and "memoryswap limit should be larger" in r.get_json()["message"]
    r = _update(client, cid, Memory=512 * MiB)
    assert r.status_code == 409 and r.get_json()["message"].startswith("Cannot update container %s: " % cid)
    r = client.post("/v1.45/containers/%s/update" % cid, data="{", headers=JSON)
    assert r.status_code == 400


def test_kernel_memory_is_accepted_with_dockers_deprecation_warning(client, daemon):
    cid = _create(daemon, running=True)
    r = _update(client, cid, KernelMemory=10 * MiB)
    assert r.status_code == 200
    assert r.get_json()["Warnings"][0] == ("Specifying a kernel memory limit is deprecated and "
                                           "will be removed in a future release.")
