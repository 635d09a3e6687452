"""gRPC clients of every service the apiserver talks to (one channel per service, shared)."""

from dockyard_api.containers.v1 import containers_pb2_grpc
from dockyard_api.images.v1 import images_pb2_grpc
from dockyard_api.networks.v1 import networks_pb2_grpc
from dockyard_api.shim.v1 import shim_pb2_grpc
from dockyard_api.snapshots.v1 import snapshots_pb2_grpc
from dockyard_api.tasks.v1 import tasks_pb2_grpc
from dockyard_api.volumes.v1 import volumes_pb2_grpc
from dockyard_common import grpcutil

_channel = grpcutil.channel     # its metadata limit lets a 10k-character id come back as a 404


class Clients:
    """`images`, `snapshots`, `containers`, `tasks`, `shim`, `networks`, `volumes`: wrapped stubs
    whose calls raise dockyard_common.errors instead of grpc.RpcError."""

    def __init__(self, layout):
        self.layout = layout
        image_ch = _channel(layout.grpc_target("image"))
        container_ch = _channel(layout.grpc_target("container"))
        self.images = grpcutil.Client(images_pb2_grpc.ImagesStub, image_ch)
        self.snapshots = grpcutil.Client(snapshots_pb2_grpc.SnapshotsStub, image_ch)
        self.containers = grpcutil.Client(containers_pb2_grpc.ContainersStub, container_ch)
        self.tasks = grpcutil.Client(tasks_pb2_grpc.TasksStub, container_ch)
        # The I/O path only (Attach, Logs, ResizePty, CloseStdin): ARCHITECTURE.md section 3.
        self.shim = grpcutil.Client(shim_pb2_grpc.ShimStub, _channel(layout.grpc_target("shim")))
        self.networks = grpcutil.Client(networks_pb2_grpc.NetworksStub, _channel(layout.grpc_target("network")))
        self.volumes = grpcutil.Client(volumes_pb2_grpc.VolumesStub, _channel(layout.grpc_target("volume")))
