"""Thin gRPC servicer for dockyard_api.volumes.v1.Volumes: decode, call the store, encode."""

from dockyard_api.types.v1 import types_pb2
from dockyard_api.volumes.v1 import volumes_pb2, volumes_pb2_grpc


def to_proto(v, size=-1):
    return volumes_pb2.Volume(name=v.name, driver=v.driver, mountpoint=v.mountpoint,
                              labels=v.labels, options=v.options, scope=v.scope,
                              created_at=v.created_at, ref_count=v.ref_count,
                              anonymous=v.anonymous, users=v.users, size=size)


class VolumesServicer(volumes_pb2_grpc.VolumesServicer):
    def __init__(self, store):
        self.store = store

    def Create(self, request, context):
        return to_proto(self.store.create(name=request.name, driver=request.driver,
                                          labels=dict(request.labels),
                                          driver_opts=dict(request.driver_opts),
                                          anonymous=request.anonymous))

    def Get(self, request, context):
        return to_proto(self.store.get(request.name))

    def List(self, request, context):
        vols = self.store.list(label_filters=dict(request.label_filters),
                               dangling_only=request.dangling_only)
        return volumes_pb2.ListVolumesResponse(volumes=[
            to_proto(v, self.store.usage(v.name) if request.with_size else -1) for v in vols])

    def Remove(self, request, context):
        self.store.remove(request.name, force=request.force)
        return types_pb2.Empty()

    def Prune(self, request, context):
        removed, space = self.store.prune(label_filters=dict(request.label_filters), all=request.all)
        return volumes_pb2.PruneVolumesResponse(removed=removed, space_reclaimed=space)

    def Acquire(self, request, context):
        return to_proto(self.store.acquire(request.name, request.container_id, create=request.create,
                                           anonymous=request.anonymous, labels=dict(request.labels),
                                           driver=request.driver,
                                           driver_opts=dict(request.driver_opts)))

    def Release(self, request, context):
        self.store.release(request.name, request.container_id)
        return types_pb2.Empty()
