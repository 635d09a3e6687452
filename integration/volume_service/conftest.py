"""A volume-service process on a private root (needs root for the tmpfs/bind option volumes)."""

import os

import pytest

from dockyard_api.volumes.v1 import volumes_pb2_grpc
from dockyard_common import grpcutil, mounts
from dockyard_common.testing.stack import TestStack


@pytest.fixture
def stack():
    if os.geteuid() != 0:
        pytest.fail("integration tests need root")
    with TestStack(services=["volume"]) as s:
        yield s
        leftover = mounts.mounts_below(s.root)
        assert leftover == [], "volume-service left mounts behind: %s" % leftover


class _Volumes:
    """A client that reconnects after the service restarts."""

    def __init__(self, stack):
        self.stack = stack
        self._client = None

    def __getattr__(self, name):
        if self._client is None:
            self._client = grpcutil.Client(volumes_pb2_grpc.VolumesStub,
                                           self.stack.layout.grpc_target("volume"))
        return getattr(self._client, name)

    def restart(self):
        if self._client is not None:
            self._client.channel.close()
            self._client = None
        self.stack.stop_service("volume")
        self.stack.start_service("volume")

    def close(self):
        if self._client is not None:
            self._client.channel.close()


@pytest.fixture
def volumes(stack):
    v = _Volumes(stack)
    yield v
    v.close()
