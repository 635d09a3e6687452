"""An in-memory container world for the containers/exec router tests: images, snapshots,
networks, volumes, container records, tasks and the shim's I/O, all faked without gRPC."""

import json
import queue
import threading
import time

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.images.v1 import images_pb2
from dockyard_api.networks.v1 import networks_pb2
from dockyard_api.shim.v1 import shim_pb2
from dockyard_api.snapshots.v1 import snapshots_pb2
from dockyard_api.tasks.v1 import tasks_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_api.volumes.v1 import volumes_pb2
from dockyard_common import errors, ids
from dockyard_common.paths import Layout

from dockyard_apiserver.attach import AttachHubs
from dockyard_apiserver.events import EventBus
from dockyard_apiserver.monitor import ExitMonitor

EMPTY = types_pb2.Empty()
IMAGE_ID = "sha256:" + "ab" * 32


class World:
    """Shared state of the fake services; `calls` records (service, method, arg)."""

    def __init__(self):
        self.calls = []
        self.records = {}        # id -> Container
        self.snapshots = set()
        self.endpoints = {}      # container id -> [network]
        self.bindings = {}       # (container id, network) -> [PortBinding]
        self.volumes = {}        # name -> set(container ids)
        self.tasks = {}          # id -> "created"|"running"|"stopped"
        self.logs = {}           # id -> [LogEntry]
        self.stdin = {}          # id -> [bytes]; "CLOSED" appended on close
        self.outputs = {}        # (id, exec_id) -> queue of AttachOutput/None
        self.fail = {}           # method name -> exception to raise once
        self.execs = {}
        self.image_files = {}    # path -> bytes of the image's files (Snapshots.ArchiveGet)
        self.path_stats = {}     # path -> PathStat (Snapshots.StatPath); others are not found

    def maybe_fail(self, name):
        exc = self.fail.pop(name, None)
        if exc is not None:
            raise exc


class FakeImages:
    def __init__(self, world):
        self.w = world
        cfg = {"config": {"Cmd": ["sh"], "Env": ["PATH=/usr/bin:/bin", "FROM_IMAGE=1"],
                          "WorkingDir": "/", "Labels": {"from.image": "yes"}}}
        self.image = images_pb2.Image(id=IMAGE_ID, repo_tags=["busybox:latest"], chain_id="sha256:chain",
                                      config_json=json.dumps(cfg).encode(), size=1000)

    def Get(self, req):
        if req.ref in ("busybox", "busybox:latest", IMAGE_ID):
            return self.image
        raise errors.NotFound("image %s not found" % req.ref)

    def List(self, req):
        return images_pb2.ListImagesResponse(images=[self.image])


class FakeSnapshots:
    def __init__(self, world):
        self.w = world

    def Prepare(self, req):
        self.w.calls.append(("snapshots", "Prepare", req.key))
        self.w.snapshots.add(req.key)
        return snapshots_pb2.MountsResponse(mounts=[types_pb2.Mount(
            type="overlay", source="overlay", options=["lowerdir=/l", "upperdir=/s/1/fs", "workdir=/s/1/work"])])

    def Remove(self, req):
        self.w.calls.append(("snapshots", "Remove", req.key))
        self.w.snapshots.discard(req.key)
        return EMPTY

    def Usage(self, req):
        return snapshots_pb2.UsageResponse(size=42)

    def StatPath(self, req):
        if req.path not in self.w.path_stats:
            raise errors.NotFound("Could not find the file %s" % req.path)
        return self.w.path_stats[req.path]

    def ArchiveGet(self, req):
        """A tar of `req.path` from `w.image_files` ({"/etc/passwd": b"..."}): NotFound if none."""
        import io
        import tarfile
        files = {p: d for p, d in self.w.image_files.items() if p.startswith(req.path.rstrip("/") + "/")}
        if not files:
            raise errors.NotFound("Could not find the file %s" % req.path)
        base = req.path.rstrip("/").rsplit("/", 1)[-1]
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            ti = tarfile.TarInfo(base)
            ti.type, ti.mode, ti.uid = tarfile.DIRTYPE, 0o750, 1234
            tar.addfile(ti)
            for p, data in sorted(files.items()):
                ti = tarfile.TarInfo(base + p[len(req.path.rstrip("/")):])
                ti.size, ti.mode = len(data), 0o640
                tar.addfile(ti, io.BytesIO(data))
        return iter([types_pb2.DataChunk(data=buf.getvalue())])


class FakeNetworks:
    """Sandboxes and endpoints: `w.endpoints` maps a container id to its [network names]."""

    NETS = {"bridge": "b" * 64, "host": "h" * 64, "none": "0" * 64, "usernet": "u" * 64}

    def __init__(self, world):
        self.w = world

    def Get(self, req):
        for name, nid in self.NETS.items():
            if req.ref in (name, nid):
                return networks_pb2.Network(id=nid, name=name, driver="bridge")
        raise errors.NotFound("network %s not found" % req.ref)

    def _endpoint(self, cid, network, aliases=(), bindings=()):
        base = "/tmp/ep/" + cid
        ip = "" if network in ("host", "none") else "172.17.0.%d" % (2 + len(self.w.endpoints.get(cid, [])))
        return networks_pb2.Endpoint(
            container_id=cid, network_id=self.NETS.get(network, "n" * 64), network_name=network,
            endpoint_id="e" * 64, ip_address=ip, prefix_len=16 if ip else 0,
            gateway="172.17.0.1" if ip else "", mac_address="02:42:ac:11:00:02" if ip else "",
            netns_path="" if network == "host" else "/run/netns/x",
            hosts_path=base + "/hosts", resolv_conf_path=base + "/resolv.conf",
            hostname_path=base + "/hostname", aliases=list(aliases),
            port_bindings=[networks_pb2.PortBinding(host_ip=b.host_ip or "0.0.0.0",
                                                    host_port=b.host_port or 49153,
                                                    container_port=b.container_port,
                                                    protocol=b.protocol or "tcp") for b in bindings],
            dns_names=[cid[:12]] + list(aliases) if network not in ("bridge", "host", "none") else [])

    def Attach(self, req):
        self.w.maybe_fail("Attach")
        network = next((n for n, i in self.NETS.items() if i == req.network), req.network)
        self.w.calls.append(("networks", "Attach", network))
        if network in self.w.endpoints.get(req.container_id, []):
            raise errors.Conflict("endpoint with name x already exists in network %s" % network)
        ep = self._endpoint(req.container_id, network, req.aliases, req.port_bindings)
        self.w.endpoints.setdefault(req.container_id, []).append(network)
        self.w.bindings[(req.container_id, network)] = list(ep.port_bindings)
        return ep

    def Detach(self, req):
        network = next((n for n, i in self.NETS.items() if i == req.network), req.network)
        self.w.calls.append(("networks", "Detach", req.container_id) if not network
                            else ("networks", "Detach", req.container_id, network))
        if not network:
            self.w.endpoints.pop(req.container_id, None)
            return EMPTY
        nets = self.w.endpoints.get(req.container_id, [])
        if network not in nets:
            raise errors.NotFound("container %s is not connected to network %s" % (req.container_id, network))
        nets.remove(network)
        return EMPTY

    def Rename(self, req):
        self.w.calls.append(("networks", "Rename", req.container_id, req.container_name))
        return self.Endpoints(req)

    def Endpoints(self, req):
        return networks_pb2.EndpointsResponse(endpoints=[
            self._endpoint(req.container_id, n, bindings=self.w.bindings.get((req.container_id, n), []))
            for n in self.w.endpoints.get(req.container_id, [])])


class FakeVolumes:
    def __init__(self, world):
        self.w = world

    def Acquire(self, req):
        name = req.name or ("anon%d" % len(self.w.volumes))
        self.w.volumes.setdefault(name, set()).add(req.container_id)
        return volumes_pb2.Volume(name=name, mountpoint="/v/%s/_data" % name, anonymous=req.anonymous)

    def Release(self, req):
        self.w.volumes.get(req.name, set()).discard(req.container_id)
        return EMPTY

    def Remove(self, req):
        self.w.calls.append(("volumes", "Remove", req.name))
        self.w.volumes.pop(req.name, None)
        return EMPTY


class FakeContainers:
    def __init__(self, world):
        self.w = world

    def _find(self, ref):
        ref = ref.lstrip("/")
        for r in self.w.records.values():
            if r.id == ref or r.name == ref:
                return r
        hits = [r for r in self.w.records.values() if r.id.startswith(ref)]
        if len(hits) == 1:
            return hits[0]
        raise errors.NotFound("container %s not found" % ref)

    def Get(self, req):
        out = containers_pb2.Container()
        out.CopyFrom(self._find(req.ref))
        return out

    def List(self, req):
        return containers_pb2.ListContainersResponse(containers=list(self.w.records.values()))

    def Delete(self, req):
        rec = self._find(req.ref)
        self.w.calls.append(("containers", "Delete", rec.id))
        del self.w.records[rec.id]
        return EMPTY

    def Update(self, req):
        rec = self._find(req.id)
        for field in ("config_json", "host_config_json", "spec_json", "network_json", "mounts_json"):
            if getattr(req, field):
                setattr(rec, field, getattr(req, field))
        return rec

    def Rename(self, req):
        rec = self._find(req.ref)
        if any(r.name == req.new_name for r in self.w.records.values()):
            raise errors.Conflict("name in use")
        rec.name = req.new_name
        return rec


class CreatingContainers(FakeContainers):
    def Create(self, rec):
        for r in self.w.records.values():
            if r.name == rec.name:
                raise errors.Conflict('The container name "/%s" is already in use by container "%s"'
                                      % (rec.name, r.id))
        rec = containers_pb2.Container(**{f.name: getattr(rec, f.name) for f in rec.DESCRIPTOR.fields
                                          if f.name not in ("rootfs", "labels", "state")},
                                       rootfs=list(rec.rootfs), labels=dict(rec.labels),
                                       state=containers_pb2.ContainerState(
                                           status="created", started_at=ids.ZERO_TIME,
                                           finished_at=ids.ZERO_TIME))
        self.w.records[rec.id] = rec
        return rec


class FakeTasks:
    def __init__(self, world):
        self.w = world
        self.events = queue.Queue()

    def _state(self, cid):
        return self.w.records[cid].state

    def Create(self, req):
        self.w.maybe_fail("Create")
        self.w.calls.append(("tasks", "Create", req.id))
        self.w.tasks[req.id] = "created"
        self.w.outputs.setdefault((req.id, ""), queue.Queue())
        return self._state(req.id)

    def Start(self, req):
        self.w.maybe_fail("Start")
        self.w.calls.append(("tasks", "Start", req.id))
        self.w.tasks[req.id] = "running"
        st = self._state(req.id)
        st.status, st.running, st.pid = "running", True, 4242
        st.started_at = ids.now_rfc3339()
        return st

    def exit(self, cid, code):
        """Test helper: the container's process exits."""
        st = self._state(cid)
        st.status, st.running, st.paused, st.pid, st.exit_code = "exited", False, False, 0, code
        st.finished_at = ids.now_rfc3339()
        self.w.tasks[cid] = "stopped"
        q = self.w.outputs.get((cid, ""))
        if q is not None:
            q.put(None)
        return tasks_pb2.TaskEvent(type="die", id=cid, exit_code=code)

    def Kill(self, req):
        self.w.calls.append(("tasks", "Kill", req.id, req.signal))
        if self.w.tasks.get(req.id) != "running":
            raise errors.FailedPrecondition("not running")
        if req.signal in (9, 15):
            self.events.put(self.exit(req.id, 128 + req.signal))
        return EMPTY

    def Delete(self, req):
        self.w.calls.append(("tasks", "Delete", req.id))
        if req.id not in self.w.tasks:
            raise errors.NotFound("no task")
        del self.w.tasks[req.id]
        return containers_pb2.ContainerState()

    def Pause(self, req):
        self._state(req.id).paused = True
        return EMPTY

    def Resume(self, req):
        self._state(req.id).paused = False
        return EMPTY

    def Top(self, req):
        return tasks_pb2.TopResponse(pids=[1])

    def Stats(self, req):
        return tasks_pb2.StatsResponse(stats_json=json.dumps({"pids_stats": {"current": 1}}).encode())

    def ExecCreate(self, req):
        self.w.execs[req.exec_id] = tasks_pb2.ExecState(id=req.id, exec_id=req.exec_id)
        self.w.execs_process = json.loads(req.process_json)
        return EMPTY

    def ExecStart(self, req):
        st = self.w.execs[req.exec_id]
        st.exited, st.exit_code = True, 3
        self.w.outputs.setdefault((req.id, req.exec_id), queue.Queue())
        return st

    def ExecGet(self, req):
        return self.w.execs[req.exec_id]

    def Events(self, req):
        while True:
            ev = self.events.get()
            if ev is None:
                return
            yield ev


class FakeCall:
    """Shim.Attach's call: iterate the outputs; `_it` answers initial_metadata at once."""

    def __init__(self, world, requests):
        self.w = world
        first = next(requests)
        self.key = (first.open.id, first.open.exec_id)
        self.q = self.w.outputs.setdefault(self.key, queue.Queue())
        self._it = self
        self.cancelled = False

        def pump():
            for msg in requests:
                part = msg.WhichOneof("part")
                box = self.w.stdin.setdefault(self.key[0], [])
                box.append(msg.data if part == "data" else "CLOSED")
        threading.Thread(target=pump, daemon=True).start()

    def initial_metadata(self):
        return ()

    def done(self):
        return False

    def __iter__(self):
        return self

    def __next__(self):
        item = self.q.get()
        if item is None:
            raise StopIteration
        return item

    def cancel(self):
        self.cancelled = True
        self.q.put(None)


class FakeShim:
    def __init__(self, world):
        self.w = world

    def Attach(self, requests):
        return FakeCall(self.w, requests)

    def Logs(self, req):
        entries = [e for e in self.w.logs.get(req.id, [])
                   if (e.stream == 1 and req.stdout) or (e.stream == 2 and req.stderr)]
        if req.tail >= 0:
            entries = entries[len(entries) - req.tail:] if req.tail else []
        return _Cancellable(entries)

    def ResizePty(self, req):
        self.w.calls.append(("shim", "ResizePty", req.id, req.height, req.width))
        return EMPTY


class _Cancellable:
    def __init__(self, items):
        self._it = iter(items)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)

    def cancel(self):
        pass


class Clients:
    def __init__(self, world):
        self.images = FakeImages(world)
        self.snapshots = FakeSnapshots(world)
        self.networks = FakeNetworks(world)
        self.volumes = FakeVolumes(world)
        self.containers = CreatingContainers(world)
        self.tasks = FakeTasks(world)
        self.shim = FakeShim(world)


class Daemon:
    def __init__(self, tmp):
        self.world = World()
        self.layout = Layout(tmp + "/d", tmp + "/s")
        self.clients = Clients(self.world)
        self.events = EventBus()
        self.monitor = ExitMonitor(self)
        self.hubs = AttachHubs(self)

    def exit(self, cid, code):
        """The container's process exits and the monitor sees it (synchronously)."""
        self.monitor._handle(self.clients.tasks.exit(cid, code))

    def log(self, cid, stream, data, t=None):
        self.world.logs.setdefault(cid, []).append(
            shim_pb2.LogEntry(stream=stream, data=data, time_ns=t or time.time_ns()))


JSON = {"Content-Type": "application/json"}


def create(client, name=None, version="1.41", **body):
    """POST /containers/create through the test client; the new container's id."""
    body.setdefault("Image", "busybox")
    url = "/v%s/containers/create" % version + ("?name=" + name if name else "")
    r = client.post(url, data=json.dumps(body), headers=JSON)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["Id"]
