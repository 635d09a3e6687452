"""The Go types dockerd (API 1.41) decodes request bodies into, for gojson.check().

Only the JSON shape matters here (names, kinds, integer widths); what the values mean is
validated where they are used (backend/container_config.py and friends)."""

from .gojson import Bool, EmptyStruct, Int, List, Map, StrSlice, String, Struct

STR, BOOL = String(), Bool()
INT, INT64, UINT16 = Int("int"), Int("int64"), Int("uint16", 16, signed=False)
UINT64 = Int("uint64", 64, signed=False)
STRS = List(STR)
STR_MAP = Map(STR)
# Go's [2]uint; bounded to a terminal's 16 bits here, as a bigger size cannot be set on a pty.
CONSOLE_SIZE = List(Int("uint", 16, signed=False), go="[2]uint")
DURATION = Int("time.Duration")


HEALTH_CONFIG = Struct("HealthConfig", "container.HealthConfig", {
    "Test": STRS, "Interval": DURATION, "Timeout": DURATION, "StartPeriod": DURATION,
    "StartInterval": DURATION, "Retries": INT})

_CONFIG_FIELDS = {
    "Hostname": STR, "Domainname": STR, "User": STR, "AttachStdin": BOOL, "AttachStdout": BOOL,
    "AttachStderr": BOOL, "ExposedPorts": Map(EmptyStruct(), go="nat.PortSet"), "Tty": BOOL,
    "OpenStdin": BOOL, "StdinOnce": BOOL, "Env": STRS, "Cmd": StrSlice(),
    "Healthcheck": HEALTH_CONFIG, "ArgsEscaped": BOOL, "Image": STR,
    "Volumes": Map(EmptyStruct()), "WorkingDir": STR, "Entrypoint": StrSlice(),
    "NetworkDisabled": BOOL, "MacAddress": STR, "OnBuild": STRS, "Labels": STR_MAP,
    "StopSignal": STR, "StopTimeout": INT, "Shell": StrSlice()}

_THROTTLE = List(Struct("ThrottleDevice", "blkiodev.ThrottleDevice",
                        {"Path": STR, "Rate": UINT64}), go="[]*blkiodev.ThrottleDevice")

RESOURCES_FIELDS = {
    "CpuShares": INT64, "Memory": INT64, "NanoCpus": INT64, "CgroupParent": STR,
    "BlkioWeight": UINT16,
    "BlkioWeightDevice": List(Struct("WeightDevice", "blkiodev.WeightDevice",
                                     {"Path": STR, "Weight": UINT16}), go="[]*blkiodev.WeightDevice"),
    "BlkioDeviceReadBps": _THROTTLE, "BlkioDeviceWriteBps": _THROTTLE,
    "BlkioDeviceReadIOps": _THROTTLE, "BlkioDeviceWriteIOps": _THROTTLE,
    "CpuPeriod": INT64, "CpuQuota": INT64, "CpuRealtimePeriod": INT64, "CpuRealtimeRuntime": INT64,
    "CpusetCpus": STR, "CpusetMems": STR,
    "Devices": List(Struct("DeviceMapping", "container.DeviceMapping", {
        "PathOnHost": STR, "PathInContainer": STR, "CgroupPermissions": STR})),
    "DeviceCgroupRules": STRS,
    "DeviceRequests": List(Struct("DeviceRequest", "container.DeviceRequest", {
        "Driver": STR, "Count": INT, "DeviceIDs": STRS, "Capabilities": List(STRS),
        "Options": STR_MAP})),
    "KernelMemory": INT64, "KernelMemoryTCP": INT64, "MemoryReservation": INT64,
    "MemorySwap": INT64, "MemorySwappiness": INT64, "OomKillDisable": BOOL, "PidsLimit": INT64,
    "Ulimits": List(Struct("Ulimit", "units.Ulimit", {"Name": STR, "Hard": INT64, "Soft": INT64}),
                    go="[]*units.Ulimit"),
    "CpuCount": INT64, "CpuPercent": INT64, "IOMaximumIOps": UINT64, "IOMaximumBandwidth": UINT64}

RESTART_POLICY = Struct("RestartPolicy", "container.RestartPolicy",
                        {"Name": STR, "MaximumRetryCount": INT})

MOUNT = Struct("Mount", "mount.Mount", {
    "Type": String("mount.Type"), "Source": STR, "Target": STR, "ReadOnly": BOOL,
    "Consistency": String("mount.Consistency"),
    "BindOptions": Struct("BindOptions", "mount.BindOptions", {
        "Propagation": String("mount.Propagation"), "NonRecursive": BOOL}),
    "VolumeOptions": Struct("VolumeOptions", "mount.VolumeOptions", {
        "NoCopy": BOOL, "Labels": STR_MAP,
        "DriverConfig": Struct("Driver", "mount.Driver", {"Name": STR, "Options": STR_MAP})}),
    "TmpfsOptions": Struct("TmpfsOptions", "mount.TmpfsOptions", {
        "SizeBytes": INT64, "Mode": Int("fs.FileMode", 32, signed=False)})})

HOST_CONFIG = Struct("HostConfig", "container.HostConfig", dict(RESOURCES_FIELDS, **{
    "Binds": STRS, "ContainerIDFile": STR,
    "LogConfig": Struct("LogConfig", "container.LogConfig", {"Type": STR, "Config": STR_MAP}),
    "NetworkMode": String("container.NetworkMode"),
    "PortBindings": Map(List(Struct("PortBinding", "nat.PortBinding",
                                    {"HostIp": STR, "HostPort": STR})), go="nat.PortMap"),
    "RestartPolicy": RESTART_POLICY, "AutoRemove": BOOL, "VolumeDriver": STR, "VolumesFrom": STRS,
    "CapAdd": StrSlice(), "CapDrop": StrSlice(), "CgroupnsMode": String("container.CgroupnsMode"),
    "Dns": STRS, "DnsOptions": STRS, "DnsSearch": STRS, "ExtraHosts": STRS, "GroupAdd": STRS,
    "IpcMode": String("container.IpcMode"), "Cgroup": String("container.CgroupSpec"),
    "Links": STRS, "OomScoreAdj": INT, "PidMode": String("container.PidMode"),
    "Privileged": BOOL, "PublishAllPorts": BOOL, "ReadonlyRootfs": BOOL, "SecurityOpt": STRS,
    "StorageOpt": STR_MAP, "Tmpfs": STR_MAP, "UTSMode": String("container.UTSMode"),
    "UsernsMode": String("container.UsernsMode"), "ShmSize": INT64, "Sysctls": STR_MAP,
    "Runtime": STR, "ConsoleSize": CONSOLE_SIZE, "Isolation": String("container.Isolation"),
    "Mounts": List(MOUNT), "MaskedPaths": STRS, "ReadonlyPaths": STRS, "Init": BOOL}))

ENDPOINT_SETTINGS = Struct("EndpointSettings", "network.EndpointSettings", {
    "IPAMConfig": Struct("EndpointIPAMConfig", "network.EndpointIPAMConfig", {
        "IPv4Address": STR, "IPv6Address": STR, "LinkLocalIPs": STRS}),
    "Links": STRS, "Aliases": STRS, "NetworkID": STR, "EndpointID": STR, "Gateway": STR,
    "IPAddress": STR, "IPPrefixLen": INT, "IPv6Gateway": STR, "GlobalIPv6Address": STR,
    "GlobalIPv6PrefixLen": INT, "MacAddress": STR, "DriverOpts": STR_MAP})

NETWORKING_CONFIG = Struct("NetworkingConfig", "network.NetworkingConfig", {
    "EndpointsConfig": Map(ENDPOINT_SETTINGS, go="map[string]*network.EndpointSettings")})

# POST /containers/create and /commit (moby runconfig.ContainerConfigWrapper: the Config
# embedded, plus HostConfig and NetworkingConfig).
CONTAINER_CREATE = Struct("ContainerConfigWrapper", "runconfig.ContainerConfigWrapper",
                          dict(_CONFIG_FIELDS, HostConfig=HOST_CONFIG,
                               NetworkingConfig=NETWORKING_CONFIG))

CONTAINER_UPDATE = Struct("UpdateConfig", "container.UpdateConfig",
                          dict(RESOURCES_FIELDS, RestartPolicy=RESTART_POLICY))

EXEC_CONFIG = Struct("ExecConfig", "types.ExecConfig", {
    "User": STR, "Privileged": BOOL, "Tty": BOOL, "ConsoleSize": CONSOLE_SIZE,
    "AttachStdin": BOOL, "AttachStderr": BOOL, "AttachStdout": BOOL, "Detach": BOOL,
    "DetachKeys": STR, "Env": STRS, "WorkingDir": STR, "Cmd": STRS})

EXEC_START = Struct("ExecStartCheck", "types.ExecStartCheck",
                    {"Detach": BOOL, "Tty": BOOL, "ConsoleSize": CONSOLE_SIZE})

NETWORK_CREATE = Struct("NetworkCreateRequest", "types.NetworkCreateRequest", {
    "Name": STR, "CheckDuplicate": BOOL, "Driver": STR, "Scope": STR, "EnableIPv6": BOOL,
    "IPAM": Struct("IPAM", "network.IPAM", {
        "Driver": STR, "Options": STR_MAP,
        "Config": List(Struct("IPAMConfig", "network.IPAMConfig", {
            "Subnet": STR, "IPRange": STR, "Gateway": STR, "AuxiliaryAddresses": STR_MAP}))}),
    "Internal": BOOL, "Attachable": BOOL, "Ingress": BOOL, "ConfigOnly": BOOL,
    "ConfigFrom": Struct("ConfigReference", "network.ConfigReference", {"Network": STR}),
    "Options": STR_MAP, "Labels": STR_MAP})

NETWORK_CONNECT = Struct("NetworkConnect", "types.NetworkConnect",
                         {"Container": STR, "EndpointConfig": ENDPOINT_SETTINGS})

NETWORK_DISCONNECT = Struct("NetworkDisconnect", "types.NetworkDisconnect",
                            {"Container": STR, "Force": BOOL})

VOLUME_CREATE = Struct("VolumeCreateBody", "volume.VolumeCreateBody", {
    "Name": STR, "Driver": STR, "DriverOpts": STR_MAP, "Labels": STR_MAP})

AUTH_CONFIG = Struct("AuthConfig", "types.AuthConfig", {
    "username": STR, "password": STR, "auth": STR, "email": STR, "serveraddress": STR,
    "identitytoken": STR, "registrytoken": STR})
