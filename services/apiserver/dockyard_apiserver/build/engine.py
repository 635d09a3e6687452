"""The builder's thin adapter over the daemon: containers through the same ContainerBackend that
`docker run` uses (create/start/logs/wait/remove; a config-only step's container is only
created), images and snapshots over gRPC (commit, ArchivePut/ArchiveGet/StatPath on a build
step's snapshot)."""

import json
import logging

from dockyard_api.images.v1 import images_pb2
from dockyard_api.shim.v1 import shim_pb2
from dockyard_api.snapshots.v1 import snapshots_pb2
from dockyard_api.tasks.v1 import tasks_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors, ids

from ..backend import containers as containers_backend
from ..backend import reference
from ..backend.images import ImageBackend

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, daemon):
        self.daemon = daemon
        self.c = daemon.clients
        self.containers = containers_backend.for_daemon(daemon)
        self.images = ImageBackend(daemon.clients, daemon.events)

    # ---------------------------------------------------------------- images
    def image(self, ref):
        """The image named `ref` (a name or an id), or None."""
        try:
            return self.c.images.Get(images_pb2.GetImageRequest(ref=reference.normalize_lookup(ref)))
        except errors.NotFound:
            return None

    def list_images(self):
        return list(self.c.images.List(images_pb2.ListImagesRequest(all=True)).images)

    def can_pull(self):
        return hasattr(images_pb2, "PullImageRequest")

    def pull(self, ref, progress, auth_json="", platform=""):
        """Images.Pull; `progress(dict)` gets each message as Docker's JSON progress line."""
        req = images_pb2.PullImageRequest(ref=str(reference.parse(ref).with_default_tag()),
                                          auth_json=auth_json, platform=platform)
        for p in self.c.images.Pull(req):
            if p.error:
                raise errors.NotFound(p.error)
            if p.done and not p.status:
                continue
            msg = {"status": p.status}
            if p.id:
                msg["id"] = p.id
            if p.total or p.current:
                msg["progressDetail"] = {"current": p.current, "total": p.total}
                msg["progress"] = p.progress
            progress(msg)

    def commit(self, parent_id, config, created_by, snapshot_key="", author="", container_config=None,
               empty_layer=None):
        """A new image on top of `parent_id`: a layer from `snapshot_key`, or config only (no
        snapshot_key, or empty_layer). A container's snapshot key is its id: the image service
        records it as the image's `container` (a config-only step's container too)."""
        if empty_layer is None:
            empty_layer = not snapshot_key
        return self.c.images.Commit(images_pb2.CommitImageRequest(
            snapshot_key=snapshot_key, parent_image=parent_id or "",
            config_json=json.dumps(config).encode(), created_by=created_by, author=author or "",
            empty_layer=empty_layer,
            container_config_json=json.dumps(container_config).encode() if container_config else b""))

    def tag(self, image_id, ref):
        return self.images.tag(image_id, ref, "")

    # ---------------------------------------------------------------- RUN containers
    def create(self, body):
        """(container id, the daemon's warnings)."""
        out = self.containers.create(None, body)
        return out["Id"], out.get("Warnings") or []

    def start(self, cid):
        # dockerd's builder attaches to a RUN container's output before starting it
        self.containers.emit(self.containers.get(cid), "attach")
        self.containers.start(cid)

    def output(self, cid):
        """The container's output (bytes per line) until it exits."""
        try:
            for entry in self.c.shim.Logs(shim_pb2.LogsRequest(id=cid, follow=True, stdout=True,
                                                               stderr=True, tail=-1)):
                yield entry.data
        except errors.NotFound:
            return

    def wait(self, cid):
        return int(self.c.tasks.Wait(tasks_pb2.TaskRef(id=cid)).exit_code)

    def kill(self, cid):
        try:
            self.c.tasks.Kill(tasks_pb2.KillTaskRequest(id=cid, signal=9))
        except errors.DockyardError:
            pass

    def remove(self, cid):
        self.containers.remove(cid, force=True, volumes=True)

    # ---------------------------------------------------------------- snapshots (COPY/ADD/WORKDIR)
    def prepare(self, image):
        """An active snapshot on top of `image` (None: empty root); returns its key. Not a bare
        hex id: the image service takes those for container ids (COPY's image has no container)."""
        key = "build-" + ids.new_id()
        self.c.snapshots.Prepare(snapshots_pb2.PrepareSnapshotRequest(
            key=key, parent=image.chain_id if image is not None else ""))
        return key

    def release(self, key):
        try:
            self.c.snapshots.Remove(snapshots_pb2.SnapshotKey(key=key))
        except errors.NotFound:
            pass
        except errors.DockyardError as exc:
            log.warning("build: removing snapshot %s failed: %s", key[:12], exc)

    def stat(self, key, path):
        """PathStat of `path` in the snapshot, or None when it does not exist."""
        try:
            return self.c.snapshots.StatPath(snapshots_pb2.PathRequest(key=key, path=path))
        except errors.NotFound:
            return None

    def put(self, key, path, chunks):
        def requests():
            yield types_pb2.ArchivePutRequest(header=types_pb2.ArchivePutHeader(key=key, path=path))
            for data in chunks:
                yield types_pb2.ArchivePutRequest(data=data)
        self.c.snapshots.ArchivePut(requests())

    def get_archive(self, key, path, out):
        """Write the tar of `path` (Docker's archive API) to the file object `out`."""
        for chunk in self.c.snapshots.ArchiveGet(snapshots_pb2.PathRequest(key=key, path=path)):
            out.write(chunk.data)
