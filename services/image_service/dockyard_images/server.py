"""Thin gRPC servicers for Images and Snapshots: decode, call ImageStore/Snapshotter, encode."""

from dockyard_api.images.v1 import images_pb2, images_pb2_grpc
from dockyard_api.snapshots.v1 import snapshots_pb2, snapshots_pb2_grpc
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors

from .login import login
from .progress import ProgressStream
from .pull import Puller
from .push import Pusher
from .registry import RegistrySettings


def image_pb(img):
    return images_pb2.Image(id=img.id, repo_tags=img.repo_tags, repo_digests=img.repo_digests,
                            config_json=img.config, diff_ids=img.diff_ids, chain_id=img.chain_id,
                            size=img.size, created=img.created, parent=img.parent)


def _chunks(request_iterator):
    for chunk in request_iterator:
        yield chunk.data


class ImagesServicer(images_pb2_grpc.ImagesServicer):
    def __init__(self, store, registry_settings=None):
        self.store = store
        settings = registry_settings or RegistrySettings.from_env()
        self.registry_settings = settings
        self.puller = Puller(store, settings)
        self.pusher = Pusher(store, settings)

    def Get(self, request, context):
        return image_pb(self.store.get(request.ref))

    def List(self, request, context):
        return images_pb2.ListImagesResponse(images=[image_pb(i) for i in self.store.list(request.all)])

    def Tag(self, request, context):
        return image_pb(self.store.tag(request.ref, request.target))

    def Delete(self, request, context):
        items = self.store.delete(request.ref, force=request.force, prune=not request.no_prune)
        return images_pb2.DeleteImageResponse(items=[images_pb2.DeleteImageItem(**i) for i in items])

    def History(self, request, context):
        return images_pb2.HistoryResponse(
            entries=[images_pb2.HistoryEntry(**e) for e in self.store.history(request.ref)])

    def Load(self, request_iterator, context):
        loaded = self.store.load(_chunks(request_iterator))
        return images_pb2.LoadImageResponse(images=[images_pb2.LoadedImage(**i) for i in loaded])

    def Import(self, request_iterator, context):
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "header":
            raise errors.InvalidArgument("import: the first message must carry the header")
        h = first.header
        header = {"repo_tag": h.repo_tag, "config_json": h.config_json, "message": h.message,
                  "os": h.os, "architecture": h.architecture}
        data = (m.data for m in request_iterator if m.WhichOneof("part") == "data")
        return image_pb(self.store.import_(header, data))

    def Save(self, request, context):
        for data in self.store.save(list(request.refs)):
            yield types_pb2.DataChunk(data=data)

    def Commit(self, request, context):
        return image_pb(self.store.commit(
            request.snapshot_key, parent_image=request.parent_image, config_json=request.config_json,
            repo_tag=request.repo_tag, comment=request.comment, author=request.author,
            created_by=request.created_by, empty_layer=request.empty_layer,
            container_config_json=request.container_config_json))


    def Pull(self, request, context):
        def work(emit):
            image_id, digest = self.puller.pull(request.ref, emit, platform=request.platform,
                                                auth_json=request.auth_json,
                                                all_tags=request.all_tags)
            emit(id=image_id, digest=digest, done=True)
        yield from _stream(work, context, images_pb2.PullProgress)

    def Push(self, request, context):
        def work(emit):
            self.pusher.push(request.ref, emit, auth_json=request.auth_json)
        yield from _stream(work, context, images_pb2.PushProgress)

    def Login(self, request, context):
        status, token = login(self.registry_settings, request.auth_json)
        return images_pb2.LoginResponse(status=status, identity_token=token)


def _stream(work, context, message):
    """Run work(emit) in a thread and relay what it emits; stops it when the client goes away."""
    stream = ProgressStream(work)
    context.add_callback(stream.cancel)
    for event in stream:
        yield message(**event)


def mounts_pb(mounts):
    return snapshots_pb2.MountsResponse(mounts=[types_pb2.Mount(**m) for m in mounts])


class SnapshotsServicer(snapshots_pb2_grpc.SnapshotsServicer):
    def __init__(self, snapshotter, fs=None):
        self.snapshots = snapshotter
        self.fs = fs      # fsops.SnapshotFS: the archive API and changes

    def Prepare(self, request, context):
        return mounts_pb(self.snapshots.prepare(request.key, request.parent,
                                                 init_layer=request.init_layer))

    def Mounts(self, request, context):
        return mounts_pb(self.snapshots.mounts(request.key))

    def Remove(self, request, context):
        self.snapshots.remove(request.key)
        return types_pb2.Empty()

    def Usage(self, request, context):
        size, inodes = self.snapshots.usage(request.key)
        return snapshots_pb2.UsageResponse(size=size, inodes=inodes)

    def List(self, request, context):
        return snapshots_pb2.ListSnapshotsResponse(
            snapshots=[snapshots_pb2.SnapshotInfo(**s) for s in self.snapshots.list()])

    def StatPath(self, request, context):
        return types_pb2.PathStat(**self.fs.stat_path(request.key, request.path,
                                                      list(request.mounts)))

    def ArchiveGet(self, request, context):
        for data in self.fs.archive_get(request.key, request.path, list(request.mounts)):
            yield types_pb2.DataChunk(data=data)

    def ArchivePut(self, request_iterator, context):
        h = archive_put_header(request_iterator)
        self.fs.archive_put(h.key, h.path, archive_put_data(request_iterator),
                            no_overwrite_dir_non_dir=h.no_overwrite_dir_non_dir,
                            binds=list(h.mounts), readonly_rootfs=h.readonly_rootfs,
                            owner_user=h.user if h.copy_uid_gid else None)
        return types_pb2.Empty()

    def Changes(self, request, context):
        return snapshots_pb2.ChangesResponse(changes=[
            snapshots_pb2.Change(path=p, kind=k) for p, k in self.fs.changes(request.key)])


def archive_put_header(request_iterator):
    first = next(request_iterator, None)
    if first is None or first.WhichOneof("part") != "header":
        raise errors.InvalidArgument("archive put: the first message must carry the header")
    return first.header


def archive_put_data(request_iterator):
    from dockyard_common.containerfs import ChunkReader
    return ChunkReader(m.data for m in request_iterator if m.WhichOneof("part") == "data")
