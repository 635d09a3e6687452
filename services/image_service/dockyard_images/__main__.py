"""Entry point: `python -m dockyard_images` serves Images and Snapshots on STATE/image.sock."""

import logging
import os

from dockyard_api.images.v1.images_pb2_grpc import add_ImagesServicer_to_server
from dockyard_api.snapshots.v1.snapshots_pb2_grpc import add_SnapshotsServicer_to_server
from dockyard_common import grpcutil, logsetup
from dockyard_common.paths import Layout

from .fsops import SnapshotFS
from .images import ImageStore
from .server import ImagesServicer, SnapshotsServicer

log = logging.getLogger("dockyard_images")


def main():
    logsetup.setup("image")
    layout = Layout.from_env()
    store = ImageStore(layout.image_dir)
    fs = SnapshotFS(store.snapshots, os.path.join(layout.image_dir, "mnt"))
    server = grpcutil.Server(layout.socket("image"))
    server.add(add_ImagesServicer_to_server, ImagesServicer(store), "dockyard_api.images.v1.Images")
    server.add(add_SnapshotsServicer_to_server, SnapshotsServicer(store.snapshots, fs),
               "dockyard_api.snapshots.v1.Snapshots")
    store.restore()     # before serving: no call sees the store half restored
    fs.cleanup()
    server.start()
    server.ready()
    server.serve_forever()


if __name__ == "__main__":
    main()
