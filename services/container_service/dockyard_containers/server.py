"""Thin gRPC servicers for Containers and Tasks (the logic is in containers.py and tasks.py)."""

import queue

from dockyard_api.containers.v1 import containers_pb2, containers_pb2_grpc
from dockyard_api.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from dockyard_api.types.v1 import types_pb2

EMPTY = types_pb2.Empty()


class ContainersServicer(containers_pb2_grpc.ContainersServicer):
    def __init__(self, containers):
        self.c = containers

    def Create(self, request, context):
        return self.c.create(request)

    def Get(self, request, context):
        return self.c.get(request.ref)

    def List(self, request, context):
        return containers_pb2.ListContainersResponse(containers=self.c.list(all=request.all))

    def Update(self, request, context):
        manual = request.manually_stopped if request.HasField("manually_stopped") else None
        return self.c.update(request.id, config_json=request.config_json,
                             host_config_json=request.host_config_json, spec_json=request.spec_json,
                             network_json=request.network_json, mounts_json=request.mounts_json,
                             health_json=request.health_json, manually_stopped=manual)

    def Rename(self, request, context):
        return self.c.rename(request.ref, request.new_name)

    def Delete(self, request, context):
        self.c.delete(request.ref)
        return EMPTY


class TasksServicer(tasks_pb2_grpc.TasksServicer):
    def __init__(self, tasks, hub):
        self.t = tasks
        self.hub = hub

    def Create(self, request, context):
        return self.t.create(request.id, restart=request.restart)

    def Start(self, request, context):
        return self.t.start(request.id)

    def Get(self, request, context):
        return self.t.get(request.id)

    def Kill(self, request, context):
        self.t.kill(request.id, request.signal, exec_id=request.exec_id)
        return EMPTY

    def Wait(self, request, context):
        return self.t.wait(request.id, cancelled=lambda: not context.is_active())

    def Delete(self, request, context):
        return self.t.delete(request.id)

    def Update(self, request, context):
        self.t.update(request.id, request.resources_json)
        return EMPTY

    def Pause(self, request, context):
        self.t.pause(request.id)
        return EMPTY

    def Resume(self, request, context):
        self.t.resume(request.id)
        return EMPTY

    def Top(self, request, context):
        return tasks_pb2.TopResponse(pids=self.t.top(request.id))

    def Stats(self, request, context):
        return tasks_pb2.StatsResponse(stats_json=self.t.stats(request.id))

    def ExecCreate(self, request, context):
        self.t.exec_create(request.id, request.exec_id, request.process_json,
                           terminal=request.terminal, stdin=request.stdin)
        return EMPTY

    def ExecStart(self, request, context):
        return tasks_pb2.ExecState(**self.t.exec_start(request.id, request.exec_id))

    def ExecGet(self, request, context):
        return tasks_pb2.ExecState(**self.t.exec_get(request.id, request.exec_id))

    def ExecDelete(self, request, context):
        self.t.exec_delete(request.id, request.exec_id)
        return EMPTY

    def Events(self, request, context):
        q = self.hub.subscribe()
        try:
            while context.is_active():
                try:
                    yield q.get(timeout=0.5)
                except queue.Empty:
                    continue
        finally:
            self.hub.unsubscribe(q)
