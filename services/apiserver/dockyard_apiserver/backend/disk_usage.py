"""GET /system/df as dockerd 20.10 answers it (moby daemon/disk_usage.go).

Containers are the same summaries as `GET /containers/json?all=1&size=1`; each volume carries the
bytes below its Mountpoint (moby's directory.Size); an image's SharedSize is the size of its
layers that another image also uses.
"""

import logging

from dockyard_api.images.v1 import images_pb2
from dockyard_api.snapshots.v1 import snapshots_pb2
from dockyard_api.volumes.v1 import volumes_pb2
from dockyard_common import errors
from dockyard_common.layers import chain_ids

from . import images as image_backend
from . import volume_views

log = logging.getLogger(__name__)


def _safe(fn, default):
    try:
        return fn()
    except errors.DockyardError as exc:
        log.warning("system df: %s", exc)
        return default


def shared_sizes(clients, images):
    """{image id: bytes of its layers that other images share} (moby computeSharedSize)."""
    chains = {img.id: chain_ids(list(img.diff_ids)) for img in images}
    users = {}
    for cs in chains.values():
        for c in set(cs):
            users[c] = users.get(c, 0) + 1
    sizes, out = {}, {}
    for image_id, cs in chains.items():
        total = 0
        for c in cs:
            if users[c] < 2:
                continue
            if c not in sizes:
                sizes[c] = _safe(lambda: clients.snapshots.Usage(
                    snapshots_pb2.SnapshotKey(key=c)).size, -1)
            if sizes[c] < 0:
                total = -1
                break
            total += sizes[c]
        out[image_id] = total
    return out


def disk_usage(daemon, api_lt_144=False, api_lt_142=False):
    from .containers import for_daemon
    clients = daemon.clients
    containers = _safe(lambda: for_daemon(daemon).list(all=True, size=True), [])
    images = _safe(lambda: list(clients.images.List(images_pb2.ListImagesRequest(all=True)).images), [])
    volumes = _safe(lambda: list(clients.volumes.List(
        volumes_pb2.ListVolumesRequest(with_size=True)).volumes), [])
    usage = {}
    for c in containers:
        usage[c["ImageID"]] = usage.get(c["ImageID"], 0) + 1
    shared = shared_sizes(clients, images)
    image_list = []
    for img in images:
        item = image_backend.summary(img, version_lt_144=api_lt_144, containers=usage.get(img.id, 0))
        item["SharedSize"] = shared.get(img.id, -1)
        image_list.append(item)
    vol_list = [dict(volume_views.volume_json(v),
                     UsageData={"Size": v.size, "RefCount": v.ref_count})
                for v in volumes]
    out = {"LayersSize": sum(i.size for i in images), "Images": image_list,
           "Containers": containers, "Volumes": vol_list, "BuildCache": None}
    if api_lt_142:
        out["BuilderSize"] = 0    # dropped from the API in 1.42
    return out
