"""grpcutil clients across a restart of the service they call (live restore)."""

import time

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dockyard_common import errors, grpcutil


def _serve(path):
    server = grpcutil.Server(path)
    server.start()
    server.ready()
    return server


def _check(client):
    return client.Check(health_pb2.HealthCheckRequest(), timeout=5).status


def test_first_call_after_a_restart_waits_for_the_service(tmp_path):
    path = str(tmp_path / "svc.sock")
    server = _serve(path)
    client = grpcutil.Client(health_pb2_grpc.HealthStub, path)
    try:
        assert _check(client) == health_pb2.HealthCheckResponse.SERVING
        server.stop(grace=0)
        with pytest.raises(errors.DockyardError):
            _check(client)      # the service is gone: the channel backs off
        time.sleep(1.5)         # long enough for the channel's backoff to grow past its minimum
        server = _serve(path)
        # Without the gate this call failed at once ("failed to connect to all addresses").
        assert _check(client) == health_pb2.HealthCheckResponse.SERVING
    finally:
        server.stop(grace=0)
        client.channel.close()


def test_a_service_that_stays_away_fails_with_unavailable(tmp_path, monkeypatch):
    monkeypatch.setattr(grpcutil, "READY_WAIT", 0.5)
    client = grpcutil.Client(health_pb2_grpc.HealthStub, str(tmp_path / "nobody.sock"))
    try:
        with pytest.raises(errors.Unavailable):
            _check(client)
    finally:
        client.channel.close()
