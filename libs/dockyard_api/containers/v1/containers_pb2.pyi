from dockyard_api.types.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContainerState(_message.Message):
    __slots__ = ("status", "running", "paused", "restarting", "oom_killed", "dead", "pid", "exit_code", "error", "started_at", "finished_at", "restart_count", "manually_stopped")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    RESTARTING_FIELD_NUMBER: _ClassVar[int]
    OOM_KILLED_FIELD_NUMBER: _ClassVar[int]
    DEAD_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    MANUALLY_STOPPED_FIELD_NUMBER: _ClassVar[int]
    status: str
    running: bool
    paused: bool
    restarting: bool
    oom_killed: bool
    dead: bool
    pid: int
    exit_code: int
    error: str
    started_at: str
    finished_at: str
    restart_count: int
    manually_stopped: bool
    def __init__(self, status: _Optional[str] = ..., running: _Optional[bool] = ..., paused: _Optional[bool] = ..., restarting: _Optional[bool] = ..., oom_killed: _Optional[bool] = ..., dead: _Optional[bool] = ..., pid: _Optional[int] = ..., exit_code: _Optional[int] = ..., error: _Optional[str] = ..., started_at: _Optional[str] = ..., finished_at: _Optional[str] = ..., restart_count: _Optional[int] = ..., manually_stopped: _Optional[bool] = ...) -> None: ...

class Container(_message.Message):
    __slots__ = ("id", "name", "image", "image_id", "config_json", "host_config_json", "spec_json", "rootfs", "snapshot_key", "created", "state", "runtime", "network_json", "resolv_conf_path", "hostname_path", "hosts_path", "log_path", "labels", "mounts_json", "health_json")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    HOST_CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    SPEC_JSON_FIELD_NUMBER: _ClassVar[int]
    ROOTFS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    NETWORK_JSON_FIELD_NUMBER: _ClassVar[int]
    RESOLV_CONF_PATH_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_PATH_FIELD_NUMBER: _ClassVar[int]
    HOSTS_PATH_FIELD_NUMBER: _ClassVar[int]
    LOG_PATH_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MOUNTS_JSON_FIELD_NUMBER: _ClassVar[int]
    HEALTH_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    image: str
    image_id: str
    config_json: bytes
    host_config_json: bytes
    spec_json: bytes
    rootfs: _containers.RepeatedCompositeFieldContainer[_types_pb2.Mount]
    snapshot_key: str
    created: str
    state: ContainerState
    runtime: str
    network_json: bytes
    resolv_conf_path: str
    hostname_path: str
    hosts_path: str
    log_path: str
    labels: _containers.ScalarMap[str, str]
    mounts_json: bytes
    health_json: bytes
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., image: _Optional[str] = ..., image_id: _Optional[str] = ..., config_json: _Optional[bytes] = ..., host_config_json: _Optional[bytes] = ..., spec_json: _Optional[bytes] = ..., rootfs: _Optional[_Iterable[_Union[_types_pb2.Mount, _Mapping]]] = ..., snapshot_key: _Optional[str] = ..., created: _Optional[str] = ..., state: _Optional[_Union[ContainerState, _Mapping]] = ..., runtime: _Optional[str] = ..., network_json: _Optional[bytes] = ..., resolv_conf_path: _Optional[str] = ..., hostname_path: _Optional[str] = ..., hosts_path: _Optional[str] = ..., log_path: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., mounts_json: _Optional[bytes] = ..., health_json: _Optional[bytes] = ...) -> None: ...

class GetContainerRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class ListContainersRequest(_message.Message):
    __slots__ = ("all",)
    ALL_FIELD_NUMBER: _ClassVar[int]
    all: bool
    def __init__(self, all: _Optional[bool] = ...) -> None: ...

class ListContainersResponse(_message.Message):
    __slots__ = ("containers",)
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    containers: _containers.RepeatedCompositeFieldContainer[Container]
    def __init__(self, containers: _Optional[_Iterable[_Union[Container, _Mapping]]] = ...) -> None: ...

class UpdateContainerRequest(_message.Message):
    __slots__ = ("id", "config_json", "host_config_json", "spec_json", "network_json", "mounts_json", "manually_stopped", "health_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    HOST_CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    SPEC_JSON_FIELD_NUMBER: _ClassVar[int]
    NETWORK_JSON_FIELD_NUMBER: _ClassVar[int]
    MOUNTS_JSON_FIELD_NUMBER: _ClassVar[int]
    MANUALLY_STOPPED_FIELD_NUMBER: _ClassVar[int]
    HEALTH_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    config_json: bytes
    host_config_json: bytes
    spec_json: bytes
    network_json: bytes
    mounts_json: bytes
    manually_stopped: bool
    health_json: bytes
    def __init__(self, id: _Optional[str] = ..., config_json: _Optional[bytes] = ..., host_config_json: _Optional[bytes] = ..., spec_json: _Optional[bytes] = ..., network_json: _Optional[bytes] = ..., mounts_json: _Optional[bytes] = ..., manually_stopped: _Optional[bool] = ..., health_json: _Optional[bytes] = ...) -> None: ...

class RenameContainerRequest(_message.Message):
    __slots__ = ("ref", "new_name")
    REF_FIELD_NUMBER: _ClassVar[int]
    NEW_NAME_FIELD_NUMBER: _ClassVar[int]
    ref: str
    new_name: str
    def __init__(self, ref: _Optional[str] = ..., new_name: _Optional[str] = ...) -> None: ...
