from dockyard_api.types.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IPAMConfig(_message.Message):
    __slots__ = ("subnet", "gateway", "ip_range")
    SUBNET_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    IP_RANGE_FIELD_NUMBER: _ClassVar[int]
    subnet: str
    gateway: str
    ip_range: str
    def __init__(self, subnet: _Optional[str] = ..., gateway: _Optional[str] = ..., ip_range: _Optional[str] = ...) -> None: ...

class Network(_message.Message):
    __slots__ = ("id", "name", "driver", "scope", "created", "internal", "ipam", "options", "labels", "bridge_name", "endpoints", "enable_ipv6")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_FIELD_NUMBER: _ClassVar[int]
    IPAM_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    BRIDGE_NAME_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    ENABLE_IPV6_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    driver: str
    scope: str
    created: str
    internal: bool
    ipam: _containers.RepeatedCompositeFieldContainer[IPAMConfig]
    options: _containers.ScalarMap[str, str]
    labels: _containers.ScalarMap[str, str]
    bridge_name: str
    endpoints: _containers.RepeatedCompositeFieldContainer[Endpoint]
    enable_ipv6: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., driver: _Optional[str] = ..., scope: _Optional[str] = ..., created: _Optional[str] = ..., internal: _Optional[bool] = ..., ipam: _Optional[_Iterable[_Union[IPAMConfig, _Mapping]]] = ..., options: _Optional[_Mapping[str, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., bridge_name: _Optional[str] = ..., endpoints: _Optional[_Iterable[_Union[Endpoint, _Mapping]]] = ..., enable_ipv6: _Optional[bool] = ...) -> None: ...

class CreateNetworkRequest(_message.Message):
    __slots__ = ("name", "driver", "internal", "ipam", "options", "labels", "check_duplicate", "enable_ipv6")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_FIELD_NUMBER: _ClassVar[int]
    IPAM_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CHECK_DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    ENABLE_IPV6_FIELD_NUMBER: _ClassVar[int]
    name: str
    driver: str
    internal: bool
    ipam: _containers.RepeatedCompositeFieldContainer[IPAMConfig]
    options: _containers.ScalarMap[str, str]
    labels: _containers.ScalarMap[str, str]
    check_duplicate: bool
    enable_ipv6: bool
    def __init__(self, name: _Optional[str] = ..., driver: _Optional[str] = ..., internal: _Optional[bool] = ..., ipam: _Optional[_Iterable[_Union[IPAMConfig, _Mapping]]] = ..., options: _Optional[_Mapping[str, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., check_duplicate: _Optional[bool] = ..., enable_ipv6: _Optional[bool] = ...) -> None: ...

class GetNetworkRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: str
    def __init__(self, ref: _Optional[str] = ...) -> None: ...

class ListNetworksResponse(_message.Message):
    __slots__ = ("networks",)
    NETWORKS_FIELD_NUMBER: _ClassVar[int]
    networks: _containers.RepeatedCompositeFieldContainer[Network]
    def __init__(self, networks: _Optional[_Iterable[_Union[Network, _Mapping]]] = ...) -> None: ...

class PruneNetworksRequest(_message.Message):
    __slots__ = ("label_filters",)
    class LabelFiltersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LABEL_FILTERS_FIELD_NUMBER: _ClassVar[int]
    label_filters: _containers.ScalarMap[str, str]
    def __init__(self, label_filters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PruneNetworksResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, removed: _Optional[_Iterable[str]] = ...) -> None: ...

class AttachRequest(_message.Message):
    __slots__ = ("container_id", "network", "aliases", "ipv4_address", "hostname", "domainname", "extra_hosts", "container_name", "port_bindings", "dns", "dns_search", "dns_options", "ipv6_address", "mac_address", "links")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    IPV4_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    DOMAINNAME_FIELD_NUMBER: _ClassVar[int]
    EXTRA_HOSTS_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    PORT_BINDINGS_FIELD_NUMBER: _ClassVar[int]
    DNS_FIELD_NUMBER: _ClassVar[int]
    DNS_SEARCH_FIELD_NUMBER: _ClassVar[int]
    DNS_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    IPV6_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MAC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    network: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    ipv4_address: str
    hostname: str
    domainname: str
    extra_hosts: _containers.RepeatedScalarFieldContainer[str]
    container_name: str
    port_bindings: _containers.RepeatedCompositeFieldContainer[PortBinding]
    dns: _containers.RepeatedScalarFieldContainer[str]
    dns_search: _containers.RepeatedScalarFieldContainer[str]
    dns_options: _containers.RepeatedScalarFieldContainer[str]
    ipv6_address: str
    mac_address: str
    links: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, container_id: _Optional[str] = ..., network: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., ipv4_address: _Optional[str] = ..., hostname: _Optional[str] = ..., domainname: _Optional[str] = ..., extra_hosts: _Optional[_Iterable[str]] = ..., container_name: _Optional[str] = ..., port_bindings: _Optional[_Iterable[_Union[PortBinding, _Mapping]]] = ..., dns: _Optional[_Iterable[str]] = ..., dns_search: _Optional[_Iterable[str]] = ..., dns_options: _Optional[_Iterable[str]] = ..., ipv6_address: _Optional[str] = ..., mac_address: _Optional[str] = ..., links: _Optional[_Iterable[str]] = ...) -> None: ...

class PortBinding(_message.Message):
    __slots__ = ("host_ip", "host_port", "container_port", "protocol")
    HOST_IP_FIELD_NUMBER: _ClassVar[int]
    HOST_PORT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_PORT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    host_ip: str
    host_port: int
    container_port: int
    protocol: str
    def __init__(self, host_ip: _Optional[str] = ..., host_port: _Optional[int] = ..., container_port: _Optional[int] = ..., protocol: _Optional[str] = ...) -> None: ...

class Endpoint(_message.Message):
    __slots__ = ("container_id", "network_id", "network_name", "endpoint_id", "ip_address", "prefix_len", "gateway", "mac_address", "netns_path", "hosts_path", "resolv_conf_path", "hostname_path", "aliases", "interface", "container_name", "port_bindings", "dns_names", "ipv6_address", "ipv6_prefix_len", "ipv6_gateway")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_NAME_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_ID_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PREFIX_LEN_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    MAC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NETNS_PATH_FIELD_NUMBER: _ClassVar[int]
    HOSTS_PATH_FIELD_NUMBER: _ClassVar[int]
    RESOLV_CONF_PATH_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_PATH_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    PORT_BINDINGS_FIELD_NUMBER: _ClassVar[int]
    DNS_NAMES_FIELD_NUMBER: _ClassVar[int]
    IPV6_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    IPV6_PREFIX_LEN_FIELD_NUMBER: _ClassVar[int]
    IPV6_GATEWAY_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    network_id: str
    network_name: str
    endpoint_id: str
    ip_address: str
    prefix_len: int
    gateway: str
    mac_address: str
    netns_path: str
    hosts_path: str
    resolv_conf_path: str
    hostname_path: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    interface: str
    container_name: str
    port_bindings: _containers.RepeatedCompositeFieldContainer[PortBinding]
    dns_names: _containers.RepeatedScalarFieldContainer[str]
    ipv6_address: str
    ipv6_prefix_len: int
    ipv6_gateway: str
    def __init__(self, container_id: _Optional[str] = ..., network_id: _Optional[str] = ..., network_name: _Optional[str] = ..., endpoint_id: _Optional[str] = ..., ip_address: _Optional[str] = ..., prefix_len: _Optional[int] = ..., gateway: _Optional[str] = ..., mac_address: _Optional[str] = ..., netns_path: _Optional[str] = ..., hosts_path: _Optional[str] = ..., resolv_conf_path: _Optional[str] = ..., hostname_path: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., interface: _Optional[str] = ..., container_name: _Optional[str] = ..., port_bindings: _Optional[_Iterable[_Union[PortBinding, _Mapping]]] = ..., dns_names: _Optional[_Iterable[str]] = ..., ipv6_address: _Optional[str] = ..., ipv6_prefix_len: _Optional[int] = ..., ipv6_gateway: _Optional[str] = ...) -> None: ...

class DetachRequest(_message.Message):
    __slots__ = ("container_id", "network")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    network: str
    def __init__(self, container_id: _Optional[str] = ..., network: _Optional[str] = ...) -> None: ...

class EndpointsRequest(_message.Message):
    __slots__ = ("container_id",)
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    def __init__(self, container_id: _Optional[str] = ...) -> None: ...

class RenameRequest(_message.Message):
    __slots__ = ("container_id", "container_name")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    container_name: str
    def __init__(self, container_id: _Optional[str] = ..., container_name: _Optional[str] = ...) -> None: ...

class EndpointsResponse(_message.Message):
    __slots__ = ("endpoints",)
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    endpoints: _containers.RepeatedCompositeFieldContainer[Endpoint]
    def __init__(self, endpoints: _Optional[_Iterable[_Union[Endpoint, _Mapping]]] = ...) -> None: ...
