"""The on-disk layout (ARCHITECTURE.md section 5). The only module that knows where things live.

DATA (persistent) defaults to /var/lib/dockyard, STATE (tmpfs) to /run/dockyard; both come from
DOCKYARD_DATA_ROOT / DOCKYARD_STATE_ROOT so test stacks can use their own.
"""

import os
from dataclasses import dataclass

DEFAULT_DATA_ROOT = "/var/lib/dockyard"
DEFAULT_STATE_ROOT = "/run/dockyard"

SERVICES = ("image", "volume", "network", "shim", "container", "apiserver")


@dataclass(frozen=True)
class Layout:
    data_root: str = DEFAULT_DATA_ROOT
    state_root: str = DEFAULT_STATE_ROOT

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env
        return cls(env.get("DOCKYARD_DATA_ROOT") or DEFAULT_DATA_ROOT,
                   env.get("DOCKYARD_STATE_ROOT") or DEFAULT_STATE_ROOT)

    # sockets ---------------------------------------------------------------
    def socket(self, service):
        """gRPC socket path of a service ("image", "volume", "network", "shim", "container")."""
        if service not in SERVICES or service == "apiserver":
            raise ValueError("no gRPC socket for %r" % service)
        return os.path.join(self.state_root, service + ".sock")

    def grpc_target(self, service):
        return "unix://" + self.socket(service)

    @property
    def docker_socket(self):
        return os.path.join(self.state_root, "docker.sock")

    # per-service directories -------------------------------------------------
    @property
    def image_dir(self):
        return os.path.join(self.data_root, "image")

    @property
    def containers_dir(self):
        return os.path.join(self.data_root, "containers")

    def container_dir(self, container_id):
        return os.path.join(self.containers_dir, container_id)

    def container_log(self, container_id):
        return os.path.join(self.container_dir(container_id), "ctr.log")

    @property
    def network_dir(self):
        return os.path.join(self.data_root, "network")

    @property
    def volumes_dir(self):
        return os.path.join(self.data_root, "volumes")

    @property
    def tasks_dir(self):
        return os.path.join(self.state_root, "tasks")

    def task_dir(self, task_id):
        return os.path.join(self.tasks_dir, task_id)

    @property
    def runtime_root(self):
        """--root for runc/crun state."""
        return os.path.join(self.state_root, "runc")

    @property
    def netns_dir(self):
        """Where network-service bind-mounts container netns files."""
        return os.environ.get("DOCKYARD_NETNS_DIR") or "/run/netns"

    @property
    def log_dir(self):
        return os.path.join(self.state_root, "logs")
