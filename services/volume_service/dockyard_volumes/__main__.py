"""python -m dockyard_volumes: serve dockyard_api.volumes.v1.Volumes on STATE/volume.sock."""

from dockyard_api.volumes.v1 import volumes_pb2_grpc
from dockyard_common import grpcutil, logsetup
from dockyard_common.paths import Layout

from .server import VolumesServicer
from .store import VolumeStore


def main():
    logsetup.setup("volume")
    layout = Layout.from_env()
    store = VolumeStore(layout.volumes_dir)
    server = grpcutil.Server(layout.socket("volume"))
    server.add(volumes_pb2_grpc.add_VolumesServicer_to_server, VolumesServicer(store),
               "dockyard_api.volumes.v1.Volumes")
    store.reconcile()   # before serving: no call sees the volumes half reconciled
    server.start()
    server.ready()
    try:
        server.serve_forever()
    finally:
        store.close()


if __name__ == "__main__":
    main()
