from dockyard_api.types.v1 import types_pb2 as _types_pb2
from dockyard_api.containers.v1 import containers_pb2 as _containers_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class TaskRef(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class CreateTaskRequest(_message.Message):
    __slots__ = ("id", "restart")
    ID_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    id: str
    restart: bool
    def __init__(self, id: _Optional[str] = ..., restart: _Optional[bool] = ...) -> None: ...

class KillTaskRequest(_message.Message):
    __slots__ = ("id", "signal", "exec_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    signal: int
    exec_id: str
    def __init__(self, id: _Optional[str] = ..., signal: _Optional[int] = ..., exec_id: _Optional[str] = ...) -> None: ...

class TopResponse(_message.Message):
    __slots__ = ("pids",)
    PIDS_FIELD_NUMBER: _ClassVar[int]
    pids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, pids: _Optional[_Iterable[int]] = ...) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("stats_json",)
    STATS_JSON_FIELD_NUMBER: _ClassVar[int]
    stats_json: bytes
    def __init__(self, stats_json: _Optional[bytes] = ...) -> None: ...

class ExecCreateRequest(_message.Message):
    __slots__ = ("id", "exec_id", "process_json", "terminal", "stdin")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_JSON_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    id: str
    exec_id: str
    process_json: bytes
    terminal: bool
    stdin: bool
    def __init__(self, id: _Optional[str] = ..., exec_id: _Optional[str] = ..., process_json: _Optional[bytes] = ..., terminal: _Optional[bool] = ..., stdin: _Optional[bool] = ...) -> None: ...

class ExecRef(_message.Message):
    __slots__ = ("id", "exec_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    exec_id: str
    def __init__(self, id: _Optional[str] = ..., exec_id: _Optional[str] = ...) -> None: ...

class ExecState(_message.Message):
    __slots__ = ("id", "exec_id", "running", "pid", "exit_code", "exited")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXITED_FIELD_NUMBER: _ClassVar[int]
    id: str
    exec_id: str
    running: bool
    pid: int
    exit_code: int
    exited: bool
    def __init__(self, id: _Optional[str] = ..., exec_id: _Optional[str] = ..., running: _Optional[bool] = ..., pid: _Optional[int] = ..., exit_code: _Optional[int] = ..., exited: _Optional[bool] = ...) -> None: ...

class TaskEvent(_message.Message):
    __slots__ = ("type", "id", "exec_id", "exit_code", "time_ns")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    type: str
    id: str
    exec_id: str
    exit_code: int
    time_ns: int
    def __init__(self, type: _Optional[str] = ..., id: _Optional[str] = ..., exec_id: _Optional[str] = ..., exit_code: _Optional[int] = ..., time_ns: _Optional[int] = ...) -> None: ...

class UpdateTaskRequest(_message.Message):
    __slots__ = ("id", "resources_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    resources_json: bytes
    def __init__(self, id: _Optional[str] = ..., resources_json: _Optional[bytes] = ...) -> None: ...
