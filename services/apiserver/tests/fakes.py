"""In-memory stand-ins for the gRPC clients the apiserver uses (router tests, no gRPC)."""

import hashlib
import io
import json
import tarfile

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.images.v1 import images_pb2
from dockyard_api.networks.v1 import networks_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_api.volumes.v1 import volumes_pb2
from dockyard_common import errors
from dockyard_common.paths import Layout

from dockyard_apiserver.events import EventBus


def _norm(ref):
    if ref.startswith("sha256:") or all(c in "0123456789abcdef" for c in ref):
        return ref
    return ref if ":" in ref.rsplit("/", 1)[-1] else ref + ":latest"


class FakeImages:
    def __init__(self):
        self.images = {}        # id -> Image
        self.imported = []      # (header, bytes)
        self.loaded = []
        self.layer_sizes = {}   # image id -> diff size of a layer only it uses (goes with it)

    def add(self, tags=(), config=None, parent="", created="2024-01-02T03:04:05.123456789Z", size=1234):
        cfg = {"architecture": "amd64", "os": "linux", "config": config or {},
               "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]},
               "history": [{"created_by": "import", "comment": "first"}]}
        raw = json.dumps(cfg, sort_keys=True).encode() + str(len(self.images)).encode()
        iid = "sha256:" + hashlib.sha256(raw).hexdigest()
        img = images_pb2.Image(id=iid, repo_tags=list(tags), config_json=json.dumps(cfg).encode(),
                               diff_ids=["sha256:" + "1" * 64], size=size, created=created,
                               parent=parent)
        self.images[iid] = img
        return img

    def _find(self, ref):
        ref = _norm(ref)
        for img in self.images.values():
            if ref in img.repo_tags:
                return img
        r = ref[7:] if ref.startswith("sha256:") else ref
        hits = [i for i in self.images.values() if i.id[7:].startswith(r)]
        if len(hits) == 1 and r:
            return hits[0]
        raise errors.NotFound("image %s not found" % ref)

    def Get(self, req):
        return self._find(req.ref)

    def List(self, req):
        return images_pb2.ListImagesResponse(images=list(self.images.values()))

    def Tag(self, req):
        img = self._find(req.ref)
        for other in self.images.values():
            if req.target in other.repo_tags:
                other.repo_tags.remove(req.target)
        img.repo_tags.append(req.target)
        return img

    def Delete(self, req):
        img = self._find(req.ref)
        items = []
        ref = _norm(req.ref)
        if ref in img.repo_tags:
            img.repo_tags.remove(ref)
            items.append(images_pb2.DeleteImageItem(untagged=ref))
            if img.repo_tags:
                return images_pb2.DeleteImageResponse(items=items)
        else:
            for t in list(img.repo_tags):
                img.repo_tags.remove(t)
                items.append(images_pb2.DeleteImageItem(untagged=t))
        del self.images[img.id]
        items.append(images_pb2.DeleteImageItem(deleted=img.id))
        if self.layer_sizes.get(img.id):      # its own layer went with it (the others are shared)
            items.append(images_pb2.DeleteImageItem(deleted="sha256:" + "c" * 64,
                                                    size=self.layer_sizes[img.id]))
        return images_pb2.DeleteImageResponse(items=items)

    def History(self, req):
        img = self._find(req.ref)
        return images_pb2.HistoryResponse(entries=[images_pb2.HistoryEntry(
            id=img.id, created=1700000000, created_by="/bin/sh -c #(nop) ADD", size=img.size,
            comment="first", tags=list(img.repo_tags))])

    # An offline daemon: the registry cannot be reached (test_images_registry.py fakes streams).
    OFFLINE = 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'

    def Pull(self, req):
        raise errors.Unavailable(self.OFFLINE)

    def Push(self, req):
        raise errors.Unavailable(self.OFFLINE)

    def Login(self, req):
        raise errors.Unavailable(self.OFFLINE)

    def Import(self, request_iter):
        it = iter(request_iter)
        header = next(it).header
        data = b"".join(r.data for r in it)
        self.imported.append((header, data))
        cfg = json.loads(header.config_json or b"{}")
        img = self.add(tags=[header.repo_tag] if header.repo_tag else [], config=cfg)
        return img

    def Load(self, chunks):
        data = b"".join(c.data for c in chunks)
        self.loaded.append(data)
        img = self.add(tags=["loaded:latest"])
        return images_pb2.LoadImageResponse(images=[images_pb2.LoadedImage(id=img.id,
                                                                            repo_tags=["loaded:latest"])])

    def Commit(self, req):
        self.committed = getattr(self, "committed", []) + [req]
        img = self.add(tags=[req.repo_tag] if req.repo_tag else [], config=json.loads(req.config_json),
                       parent=req.parent_image)
        return img

    def Save(self, req):
        for r in req.refs:
            self._find(r)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            data = json.dumps([{"RepoTags": list(req.refs)}]).encode()
            ti = tarfile.TarInfo("manifest.json")
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
        raw = buf.getvalue()
        return iter([types_pb2.DataChunk(data=raw[i:i + 1000]) for i in range(0, len(raw), 1000)])


class FakeContainers:
    def __init__(self):
        self.items = []

    def add(self, cid, name, image_id, running=False):
        c = containers_pb2.Container(id=cid, name=name, image_id=image_id, image="x",
                                     created="2024-01-02T03:04:05Z",
                                     state=containers_pb2.ContainerState(
                                         status="running" if running else "exited", running=running))
        self.items.append(c)
        return c

    def List(self, req):
        return containers_pb2.ListContainersResponse(containers=self.items)

    def Get(self, req):
        for c in self.items:
            if c.id.startswith(req.ref) or c.name == req.ref.lstrip("/"):
                return c
        raise errors.NotFound("No such container: %s" % req.ref)


class FakeVolumes:
    def __init__(self):
        self.vols = {}

    def Create(self, req):
        if req.name in self.vols:
            return self.vols[req.name]
        name = req.name or "a" * 64
        v = volumes_pb2.Volume(name=name, driver="local", mountpoint="/var/lib/x/%s/_data" % name,
                               labels=dict(req.labels), options=dict(req.driver_opts), scope="local",
                               created_at="2024-01-02T03:04:05Z", anonymous=not req.name)
        self.vols[name] = v
        return v

    def Get(self, req):
        if req.name not in self.vols:
            raise errors.NotFound("volume %s not found" % req.name)
        return self.vols[req.name]

    def List(self, req):
        return volumes_pb2.ListVolumesResponse(volumes=list(self.vols.values()))

    def Remove(self, req):
        v = self.Get(req)
        if v.ref_count and not req.force:
            raise errors.FailedPrecondition("remove %s: volume is in use - [%s]" % (v.name, ", ".join(v.users)))
        del self.vols[req.name]
        return types_pb2.Empty()


class FakeNetworks:
    def __init__(self):
        self.nets = {}
        for i, (name, driver) in enumerate((("bridge", "bridge"), ("host", "host"), ("none", "null"))):
            self._add(name, driver, "%064x" % (i + 1))

    def _add(self, name, driver, nid, labels=None, ipam=()):
        n = networks_pb2.Network(id=nid, name=name, driver=driver, scope="local",
                                 created="2024-01-02T03:04:05Z", labels=labels or {}, ipam=list(ipam))
        self.nets[nid] = n
        return n

    def Create(self, req):
        if any(n.name == req.name for n in self.nets.values()):
            raise errors.Conflict("network with name %s already exists" % req.name)
        ipam = list(req.ipam) or [networks_pb2.IPAMConfig(subnet="172.30.0.0/16", gateway="172.30.0.1")]
        return self._add(req.name, req.driver, "%064x" % (len(self.nets) + 100), dict(req.labels), ipam)

    def Get(self, req):
        for n in self.nets.values():
            if n.name == req.ref or n.id.startswith(req.ref):
                return n
        raise errors.NotFound("network %s not found" % req.ref)

    def List(self, req):
        return networks_pb2.ListNetworksResponse(networks=list(self.nets.values()))

    def Remove(self, req):
        n = self.Get(req)
        del self.nets[n.id]
        return types_pb2.Empty()


class FakeTasks:
    def __init__(self):
        self.calls = []

    def Pause(self, req):
        self.calls.append(("pause", req.id))
        return types_pb2.Empty()

    def Resume(self, req):
        self.calls.append(("resume", req.id))
        return types_pb2.Empty()


class FakeClients:
    def __init__(self):
        self.tasks = FakeTasks()
        self.images = FakeImages()
        self.containers = FakeContainers()
        self.volumes = FakeVolumes()
        self.networks = FakeNetworks()


class FakeDaemon:
    def __init__(self, tmp="/tmp/dy-fake"):
        self.layout = Layout(tmp + "/d", tmp + "/s")
        self.clients = FakeClients()
        self.events = EventBus()
