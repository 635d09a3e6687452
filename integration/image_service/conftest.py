import os
import subprocess
import sys

import pytest

from dockyard_api.images.v1 import images_pb2_grpc
from dockyard_api.snapshots.v1 import snapshots_pb2_grpc
from dockyard_common import grpcutil
from dockyard_common.testing.stack import TestStack

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture(scope="session")
def default_images(tmp_path_factory):
    out = tmp_path_factory.mktemp("images")
    subprocess.run([sys.executable, os.path.join(REPO, "tools", "make_default_images.py"), str(out)],
                   check=True, capture_output=True)
    return {"busybox": str(out / "busybox.tar"), "hello-world": str(out / "hello-world.tar")}


@pytest.fixture(scope="module")
def stack():
    if os.geteuid() != 0:
        pytest.fail("integration tests run as root")
    with TestStack(services=["image"]) as s:
        yield s


@pytest.fixture(scope="module")
def images(stack):
    client = grpcutil.Client(images_pb2_grpc.ImagesStub, stack.layout.grpc_target("image"))
    yield client
    client.channel.close()


@pytest.fixture(scope="module")
def snapshots(stack):
    client = grpcutil.Client(snapshots_pb2_grpc.SnapshotsStub, stack.layout.grpc_target("image"))
    yield client
    client.channel.close()
