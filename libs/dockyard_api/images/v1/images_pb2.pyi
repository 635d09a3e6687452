from dockyard_api.types.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Image(_message.Message):
    __slots__ = ("id", "repo_tags", "repo_digests", "config_json", "diff_ids", "chain_id", "size", "created", "parent")
    ID_FIELD_NUMBER: _ClassVar[int]
    REPO_TAGS_FIELD_NUMBER: _ClassVar[int]
    REPO_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    DIFF_IDS_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    id: str
    repo_tags: _containers.RepeatedScalarFieldContainer[str]
    repo_digests: _containers.RepeatedScalarFieldContainer[str]
    config_json: bytes
    diff_ids: _containers.RepeatedScalarFieldContainer[str]
    chain_id: str
    size: int
    created: str
    parent: str
    def __init__(self, id: _Optional[str] = ..., repo_tags: _Optional[_Iterable[str]] = ..., repo_digests: _Optional[_Iterable[str]] = ..., config_json: _Optional[bytes] = ..., diff_ids: _Optional[_Iterable[str]] = ..., chain_id: _Optional[str] = ..., size: _Optional[int] = ..., created: _Optional[str] = ..., parent: _Optional[str] = ...) -> None: ...

class GetImageRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class ListImagesRequest(_message.Message):
    __slots__ = ("all",)
    ALL_FIELD_NUMBER: _ClassVar[int]
    all: bool
    def __init__(self, all: _Optional[bool] = ...) -> None: ...

class ListImagesResponse(_message.Message):
    __slots__ = ("images",)
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[Image]
    def __init__(self, images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ...) -> None: ...

class TagImageRequest(_message.Message):
    __slots__ = ("ref", "target")
    REF_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    ref: str
    target: str
    def __init__(self, ref: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...

class DeleteImageRequest(_message.Message):
    __slots__ = ("ref", "force", "no_prune")
    REF_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    NO_PRUNE_FIELD_NUMBER: _ClassVar[int]
    ref: str
    force: bool
    no_prune: bool
    def __init__(self, ref: _Optional[str] = ..., force: _Optional[bool] = ..., no_prune: _Optional[bool] = ...) -> None: ...

class DeleteImageItem(_message.Message):
    __slots__ = ("untagged", "deleted", "size")
    UNTAGGED_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    untagged: str
    deleted: str
    size: int
    def __init__(self, untagged: _Optional[str] = ..., deleted: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class DeleteImageResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[DeleteImageItem]
    def __init__(self, items: _Optional[_Iterable[_Union[DeleteImageItem, _Mapping]]] = ...) -> None: ...

class HistoryEntry(_message.Message):
    __slots__ = ("id", "created", "created_by", "tags", "size", "comment", "empty_layer")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    EMPTY_LAYER_FIELD_NUMBER: _ClassVar[int]
    id: str
    created: int
    created_by: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    size: int
    comment: str
    empty_layer: bool
    def __init__(self, id: _Optional[str] = ..., created: _Optional[int] = ..., created_by: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., size: _Optional[int] = ..., comment: _Optional[str] = ..., empty_layer: _Optional[bool] = ...) -> None: ...

class HistoryResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[HistoryEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[HistoryEntry, _Mapping]]] = ...) -> None: ...

class LoadedImage(_message.Message):
    __slots__ = ("id", "repo_tags")
    ID_FIELD_NUMBER: _ClassVar[int]
    REPO_TAGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    repo_tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., repo_tags: _Optional[_Iterable[str]] = ...) -> None: ...

class LoadImageResponse(_message.Message):
    __slots__ = ("images",)
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[LoadedImage]
    def __init__(self, images: _Optional[_Iterable[_Union[LoadedImage, _Mapping]]] = ...) -> None: ...

class ImportHeader(_message.Message):
    __slots__ = ("repo_tag", "config_json", "message", "os", "architecture")
    REPO_TAG_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    repo_tag: str
    config_json: bytes
    message: str
    os: str
    architecture: str
    def __init__(self, repo_tag: _Optional[str] = ..., config_json: _Optional[bytes] = ..., message: _Optional[str] = ..., os: _Optional[str] = ..., architecture: _Optional[str] = ...) -> None: ...

class ImportImageRequest(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: ImportHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[ImportHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class SaveImagesRequest(_message.Message):
    __slots__ = ("refs",)
    REFS_FIELD_NUMBER: _ClassVar[int]
    refs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, refs: _Optional[_Iterable[str]] = ...) -> None: ...

class CommitImageRequest(_message.Message):
    __slots__ = ("snapshot_key", "parent_image", "config_json", "repo_tag", "comment", "author", "created_by", "empty_layer", "container_config_json")
    SNAPSHOT_KEY_FIELD_NUMBER: _ClassVar[int]
    PARENT_IMAGE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    REPO_TAG_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    EMPTY_LAYER_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    snapshot_key: str
    parent_image: str
    config_json: bytes
    repo_tag: str
    comment: str
    author: str
    created_by: str
    empty_layer: bool
    container_config_json: bytes
    def __init__(self, snapshot_key: _Optional[str] = ..., parent_image: _Optional[str] = ..., config_json: _Optional[bytes] = ..., repo_tag: _Optional[str] = ..., comment: _Optional[str] = ..., author: _Optional[str] = ..., created_by: _Optional[str] = ..., empty_layer: _Optional[bool] = ..., container_config_json: _Optional[bytes] = ...) -> None: ...

class PullImageRequest(_message.Message):
    __slots__ = ("ref", "platform", "auth_json", "all_tags")
    REF_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    AUTH_JSON_FIELD_NUMBER: _ClassVar[int]
    ALL_TAGS_FIELD_NUMBER: _ClassVar[int]
    ref: str
    platform: str
    auth_json: str
    all_tags: bool
    def __init__(self, ref: _Optional[str] = ..., platform: _Optional[str] = ..., auth_json: _Optional[str] = ..., all_tags: _Optional[bool] = ...) -> None: ...

class PullProgress(_message.Message):
    __slots__ = ("id", "status", "progress", "current", "total", "error", "digest", "done")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: str
    progress: str
    current: int
    total: int
    error: str
    digest: str
    done: bool
    def __init__(self, id: _Optional[str] = ..., status: _Optional[str] = ..., progress: _Optional[str] = ..., current: _Optional[int] = ..., total: _Optional[int] = ..., error: _Optional[str] = ..., digest: _Optional[str] = ..., done: _Optional[bool] = ...) -> None: ...

class PushImageRequest(_message.Message):
    __slots__ = ("ref", "auth_json")
    REF_FIELD_NUMBER: _ClassVar[int]
    AUTH_JSON_FIELD_NUMBER: _ClassVar[int]
    ref: str
    auth_json: str
    def __init__(self, ref: _Optional[str] = ..., auth_json: _Optional[str] = ...) -> None: ...

class PushProgress(_message.Message):
    __slots__ = ("id", "status", "progress", "current", "total", "error", "digest", "done", "size")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: str
    progress: str
    current: int
    total: int
    error: str
    digest: str
    done: bool
    size: int
    def __init__(self, id: _Optional[str] = ..., status: _Optional[str] = ..., progress: _Optional[str] = ..., current: _Optional[int] = ..., total: _Optional[int] = ..., error: _Optional[str] = ..., digest: _Optional[str] = ..., done: _Optional[bool] = ..., size: _Optional[int] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("auth_json",)
    AUTH_JSON_FIELD_NUMBER: _ClassVar[int]
    auth_json: str
    def __init__(self, auth_json: _Optional[str] = ...) -> None: ...

class LoginResponse(_message.Message):
    __slots__ = ("status", "identity_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: str
    identity_token: str
    def __init__(self, status: _Optional[str] = ..., identity_token: _Optional[str] = ...) -> None: ...
