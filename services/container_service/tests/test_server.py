"""The servicers over a real gRPC server on a unix socket (fake shim, no root)."""

import threading

import pytest

from dockyard_api.containers.v1 import containers_pb2, containers_pb2_grpc
from dockyard_api.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors, grpcutil
from dockyard_containers.server import ContainersServicer, TasksServicer
from helpers import record


@pytest.fixture
def clients(env, tmp_path):
    server = grpcutil.Server(str(tmp_path / "c.sock"))
    server.add(containers_pb2_grpc.add_ContainersServicer_to_server, ContainersServicer(env.containers),
               "dockyard_api.containers.v1.Containers")
    server.add(tasks_pb2_grpc.add_TasksServicer_to_server, TasksServicer(env.tasks, env.hub),
               "dockyard_api.tasks.v1.Tasks")
    server.start()
    server.ready()
    target = "unix://" + str(tmp_path / "c.sock")
    c = grpcutil.Client(containers_pb2_grpc.ContainersStub, target)
    t = grpcutil.Client(tasks_pb2_grpc.TasksStub, target)
    yield c, t
    c.channel.close()
    t.channel.close()
    server.stop(0)


def test_grpc_round_trip(env, clients):
    c, t = clients
    rec = c.Create(record(name="srv"))
    assert c.Get(containers_pb2.GetContainerRequest(ref="/srv")).id == rec.id
    with pytest.raises(errors.Conflict):
        c.Create(record(name="srv"))
    with pytest.raises(errors.NotFound) as ei:
        c.Get(containers_pb2.GetContainerRequest(ref="missing"))
    assert str(ei.value) == "No such container: missing"

    events = t.Events(types_pb2.Empty())
    got = []
    def read():
        try:
            for e in events:
                got.append(e)
        except errors.DockyardError:
            pass  # cancelled at the end of the test
    reader = threading.Thread(target=read)
    reader.start()

    st = t.Start(tasks_pb2.TaskRef(id=rec.id))
    assert st.running
    with pytest.raises(errors.NotModified):
        t.Start(tasks_pb2.TaskRef(id=rec.id))
    assert len(c.List(containers_pb2.ListContainersRequest(all=False)).containers) == 1
    env.shim.exit(rec.id, 2, emit=False)
    env.tasks.handle_exit(rec.id, 2)
    assert t.Wait(tasks_pb2.TaskRef(id=rec.id)).exit_code == 2
    c.Rename(containers_pb2.RenameContainerRequest(ref=rec.id, new_name="srv2"))
    c.Delete(containers_pb2.GetContainerRequest(ref="srv2"))
    events.cancel()
    reader.join(2)
    assert [(e.type, e.exit_code) for e in got] == [("start", 0), ("die", 2)]
