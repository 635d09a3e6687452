"""Host and daemon facts for /version, /info and /system/df."""

import functools
import logging
import os
import platform
import socket
import subprocess
import time
import uuid

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.images.v1 import images_pb2
from dockyard_common import errors, ids

from .. import API_VERSION, ENGINE_VERSION, MIN_API_VERSION
from . import container_resources, container_sysinfo

log = logging.getLogger(__name__)

GIT_COMMIT = "dockyard"
BUILD_TIME = "2024-01-01T00:00:00.000000000+00:00"
GO_VERSION = "python" + platform.python_version()


def arch_go():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)


def mem_total():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cgroup_version():
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def _os_release(key, default):
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith(key + "="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return default


def operating_system():
    return _os_release("PRETTY_NAME", "Linux")


def os_version():
    return _os_release("VERSION_ID", "")


@functools.lru_cache(maxsize=1)
def runc_version():
    try:
        out = subprocess.run(["runc", "--version"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return "", ""
    version = commit = ""
    for line in out.splitlines():
        if line.startswith("runc version"):
            version = line.split()[-1]
        elif line.startswith("commit:"):
            commit = line.split(":", 1)[1].strip()
    return version, commit


def daemon_id(layout):
    """Stable per host and data root (dockerd keeps a generated engine id on disk)."""
    try:
        with open("/etc/machine-id") as f:
            machine = f.read().strip()
    except OSError:
        machine = socket.gethostname()
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "dockyard:%s:%s" % (machine, layout.data_root)))


def version():
    kernel = platform.release()
    details = {"ApiVersion": API_VERSION, "Arch": arch_go(), "BuildTime": BUILD_TIME,
               "Experimental": "false", "GitCommit": GIT_COMMIT, "GoVersion": GO_VERSION,
               "KernelVersion": kernel, "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}
    components = [{"Name": "Engine", "Version": ENGINE_VERSION, "Details": details}]
    rv, rc = runc_version()
    if rv:
        components.append({"Name": "runc", "Version": rv, "Details": {"GitCommit": rc}})
    return {
        "Platform": {"Name": "dockyard"},
        "Components": components,
        "Version": ENGINE_VERSION, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": GIT_COMMIT, "GoVersion": GO_VERSION, "Os": "linux", "Arch": arch_go(),
        "KernelVersion": kernel, "BuildTime": BUILD_TIME,
    }


def _safe(fn, default):
    try:
        return fn()
    except errors.DockyardError as exc:
        log.warning("info: %s", exc)
        return default


def info(daemon):
    clients = daemon.clients
    containers = _safe(lambda: list(clients.containers.List(
        containers_pb2.ListContainersRequest(all=True)).containers), [])
    images = _safe(lambda: list(clients.images.List(images_pb2.ListImagesRequest(all=True)).images), [])
    running = sum(1 for c in containers if c.state.running and not c.state.paused)
    paused = sum(1 for c in containers if c.state.paused)
    stopped = len(containers) - running - paused
    rv, rc = runc_version()
    cgv = cgroup_version()
    sysinfo = container_sysinfo.probe()
    # dockerd 20.10 calls its built-in seccomp profile "default" ("builtin" came with 23.0).
    security = ["name=seccomp,profile=default"] if cgv == "1" else ["name=seccomp,profile=default",
                                                                   "name=cgroupns"]
    return {
        "ID": daemon_id(daemon.layout),
        "Containers": len(containers), "ContainersRunning": running,
        "ContainersPaused": paused, "ContainersStopped": stopped,
        "Images": len(images),
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"],
                         ["Native Overlay Diff", "true"], ["userxattr", "false"]],
        "DockerRootDir": daemon.layout.data_root,
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "ipvlan", "macvlan", "null"],
                    "Authorization": None, "Log": ["json-file"]},
        # host facts, as dockerd's pkg/sysinfo reads them from the cgroup files
        "MemoryLimit": sysinfo.memory_limit, "SwapLimit": sysinfo.swap_limit,
        "KernelMemory": sysinfo.kernel_memory,
        "KernelMemoryTCP": cgv == "1" and os.path.exists(
            "/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes"),
        "CpuCfsPeriod": True, "CpuCfsQuota": True, "CPUShares": True, "CPUSet": True,
        "PidsLimit": True, "IPv4Forwarding": True, "BridgeNfIptables": True,
        "BridgeNfIp6tables": True, "OomKillDisable": cgv == "1",
        "Debug": False, "NFd": _count_fds(), "NGoroutines": _thread_count(),
        "SystemTime": ids.now_rfc3339(), "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs", "CgroupVersion": cgv,
        "NEventsListener": 0,
        "KernelVersion": platform.release(),
        "OperatingSystem": operating_system(), "OSVersion": os_version(), "OSType": "linux",
        "Architecture": platform.machine(),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": [],
                           "AllowNondistributableArtifactsHostnames": [],
                           "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                           "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [],
                                                          "Secure": True, "Official": True}},
                           "Mirrors": []},
        "NCPU": os.cpu_count() or 1, "MemTotal": mem_total(),
        "GenericResources": None,
        "HttpProxy": os.environ.get("HTTP_PROXY", ""), "HttpsProxy": os.environ.get("HTTPS_PROXY", ""),
        "NoProxy": os.environ.get("NO_PROXY", ""),
        "Name": socket.gethostname(),
        "Labels": [], "ExperimentalBuild": False,
        "ServerVersion": ENGINE_VERSION,
        "Runtimes": {name: {"path": name} for name in container_resources.installed_runtimes()},
        "DefaultRuntime": "runc",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                  "ControlAvailable": False, "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True,
        "Isolation": "",
        "InitBinary": "docker-init",
        "ContainerdCommit": {"ID": "dockyard", "Expected": "dockyard"},
        "RuncCommit": {"ID": rc or "", "Expected": rc or ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": security,
        "Warnings": None,
        "CDISpecDirs": [],
    }


def _count_fds():
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def _thread_count():
    import threading
    return threading.active_count()


def now():
    return time.time()
